namespace SslCluster.Protocol.Config;

/// <summary>
/// The administrative state of a CSS object. Like the CSS, every object starts suspended and carries traffic only
/// after an explicit <c>active</c>.
/// </summary>
public enum AdminState
{
    Suspended,
    Active,
}
