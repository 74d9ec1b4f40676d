namespace SslCluster.Protocol.Pki;

/// <summary>What went wrong, so that callers (CLI, actors) can react without parsing the text.</summary>
public enum PkiErrorCode
{
    /// <summary>A file name, subject field, size or other argument is not acceptable.</summary>
    InvalidArgument,

    /// <summary>A key is too weak to be used (RSA under 2048 bits).</summary>
    WeakKey,

    /// <summary>An algorithm, curve or command this product deliberately does not support.</summary>
    Unsupported,

    /// <summary>A password does not open a file or does not match a key file's export password.</summary>
    WrongPassword,

    /// <summary>The master key in use is not the one that sealed a key file.</summary>
    MasterKeyMismatch,

    /// <summary>The master key itself is missing, unreadable or malformed.</summary>
    MasterKeyInvalid,

    /// <summary>Sealed bytes were altered, or belong to another file name or kind.</summary>
    IntegrityFailure,

    /// <summary>A file to import does not exist or cannot be read.</summary>
    FileUnreadable,

    /// <summary>A file to import is empty.</summary>
    EmptyFile,

    /// <summary>A file is not in the format it was declared to be (pem, der, pkcs12).</summary>
    WrongFormat,

    /// <summary>A file ends before its own structure says it should.</summary>
    Truncated,

    /// <summary>A file is in the declared format, but its content is damaged or not something we can import.</summary>
    Corrupt,

    /// <summary>A private key and a certificate hold different public keys.</summary>
    KeyCertificateMismatch,

    /// <summary>A file of the wrong kind was given (a certificate where a key is needed, or the reverse).</summary>
    WrongFileKind,
}

/// <summary>
/// The one exception type of the PKI code. Its message is written for the operator who typed the command:
/// lower-case start, names in single quotes, what is wrong and, where there is one, what to do instead.
/// </summary>
public sealed class PkiException : Exception
{
    /// <summary>Creates an exception with a code and an operator-readable message.</summary>
    public PkiException(PkiErrorCode code, string message)
        : base(message)
    {
        Code = code;
    }

    /// <summary>Creates an exception with a code, an operator-readable message and the low-level cause.</summary>
    public PkiException(PkiErrorCode code, string message, Exception innerException)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>Required by the analyzers' exception pattern; prefer the constructors that take a code.</summary>
    public PkiException()
        : this(PkiErrorCode.InvalidArgument, "PKI operation failed")
    {
    }

    /// <summary>Required by the analyzers' exception pattern; prefer the constructors that take a code.</summary>
    public PkiException(string message)
        : this(PkiErrorCode.InvalidArgument, message)
    {
    }

    /// <summary>Required by the analyzers' exception pattern; prefer the constructors that take a code.</summary>
    public PkiException(string message, Exception innerException)
        : this(PkiErrorCode.InvalidArgument, message, innerException)
    {
    }

    /// <summary>The category of the failure.</summary>
    public PkiErrorCode Code { get; }
}
