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

    /// <summary>
    /// The chain the store builds for certificate file <paramref name="certFile"/>: its length and whether it ends at a
    /// self-signed root; null when the view cannot tell (the check is then not made).
    /// </summary>
    (int Certificates, bool ReachesRoot)? ChainOf(string certFile) => null;
}
