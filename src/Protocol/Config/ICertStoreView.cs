namespace SslCluster.Protocol.Config;

public enum StoredFileKind
{
    RsaKey,
    EcKey,
    Certificate,
}

/// <summary>What validation needs to know of the certificate store: which files exist, and whether a key fits a certificate.</summary>
public interface ICertStoreView
{
    StoredFileKind? KindOf(string fileName);

    /// <summary>Null when the key's public half is the certificate's; otherwise why not.</summary>
    string? MismatchReason(string keyFile, string certFile);
}
