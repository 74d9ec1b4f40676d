namespace SslCluster.Protocol.Config;

public enum AssociationKind
{
    RsaKey,
    EcdsaKey,
    Cert,
}

/// <summary><c>ssl associate rsakey|ecdsakey|cert NAME FILE</c>: the name the configuration uses for a file of the certificate store.</summary>
public sealed record KeyAssociation(AssociationKind Kind, string Name, string FileName);
