using System.Runtime.InteropServices;

namespace SslCluster.OpenSsl;

/// <summary>What a client context (our side towards one real server) holds. Versions are 0x0303 and 0x0304.</summary>
public sealed record ClientContextOptions
{
    public int MinVersion { get; init; } = 0x0303;

    public int MaxVersion { get; init; } = 0x0304;

    /// <summary>TLS 1.2 suites in OpenSSL's syntax; null: OpenSSL's defaults (never used: the caller always gives ours).</summary>
    public string? CipherList { get; init; }

    /// <summary>TLS 1.3 suites; null: OpenSSL's defaults.</summary>
    public string? CipherSuites { get; init; }

    public string Groups { get; init; } = "X25519:P-256:P-384";

    /// <summary>The certificate and key presented when the server asks for one; null: none.</summary>
    public ServerCertificate? ClientCertificate { get; init; }

    /// <summary>
    /// Decides on the server's chain (leaf first, DER). With <see cref="RequireVerdict"/> a refusal fails the handshake;
    /// without, the verdict is only recorded (the server's subject, for example). Null: the chain is not looked at.
    /// </summary>
    public Func<IReadOnlyList<byte[]>, CertificateVerdict>? VerifyServer { get; init; }

    /// <summary>A refusal of <see cref="VerifyServer"/> fails the handshake (a cacert is configured).</summary>
    public bool RequireVerdict { get; init; }

    /// <summary>Receives each session the server gives us (TLS 1.2 at the end of a full handshake, TLS 1.3 tickets later), as DER.</summary>
    public Action<byte[]>? SessionReceived { get; init; }
}

/// <summary>Client contexts and connections (re-encryption, SSL initiation): the counterpart of <see cref="SslContext.CreateServer"/>.</summary>
public static unsafe class SslClient
{
    /// <summary>A client context; fails with OpenSSL's reason on a certificate, key or suite list it cannot use.</summary>
    public static SslContext CreateContext(ClientContextOptions options, object? tag = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return SslContext.CreateClient(options, tag);
    }

    /// <summary>
    /// A client connection on <paramref name="context"/>: SNI <paramref name="serverName"/> when given, and the session
    /// <paramref name="session"/> (DER, from <see cref="ClientContextOptions.SessionReceived"/>) offered for resumption.
    /// The ClientHello is queued at once: take the output and send it.
    /// </summary>
    /// <param name="applicationProtocol">Offered by ALPN when given (for example "h2").</param>
    public static SslConnection Connect(SslContext context, string? serverName, byte[]? session, string? applicationProtocol = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        return SslConnection.CreateClient(context, serverName, session, applicationProtocol);
    }
}

/// <summary>The client-side callbacks: the server's chain to the caller's decision, sessions to the caller's cache.</summary>
internal static unsafe class ClientCallbacks
{
    public static void Install(IntPtr ctx, ClientContextOptions options)
    {
        if (options.VerifyServer is not null)
        {
            LibSsl.SSL_CTX_set_cert_verify_callback(ctx, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int>)&OnVerifyServer, IntPtr.Zero);
        }

        if (options.SessionReceived is not null)
        {
            LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetSessCacheMode, (nint)(LibSsl.SessCacheClient | LibSsl.SessCacheNoInternal), IntPtr.Zero);
            LibSsl.SSL_CTX_sess_set_new_cb(ctx, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int>)&OnSession);
        }
        else
        {
            LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetSessCacheMode, (nint)LibSsl.SessCacheOff, IntPtr.Zero);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnVerifyServer(IntPtr store, IntPtr arg)
    {
        SslConnection? connection = null;
        try
        {
            var ssl = LibCrypto.X509_STORE_CTX_get_ex_data(store, LibSsl.SSL_get_ex_data_X509_STORE_CTX_idx());
            connection = SslConnection.From(ssl);
            if (connection?.Context?.ClientOptions is not { VerifyServer: { } verify } options)
            {
                LibCrypto.X509_STORE_CTX_set_error(store, ClientCertificateCallbacks.ErrorFor(80));
                return 0;
            }

            var verdict = verify(ClientCertificateCallbacks.ChainOf(store));
            connection.PeerVerdict = verdict.Outcome;
            connection.PeerRefused = !verdict.Accept && options.RequireVerdict;
            if (verdict.Accept || !options.RequireVerdict)
            {
                return 1;
            }

            LibCrypto.X509_STORE_CTX_set_error(store, ClientCertificateCallbacks.ErrorFor(verdict.RefusalAlert));
            return 0;
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: the handshake fails instead.
        catch (Exception e)
#pragma warning restore CA1031
        {
            connection?.NoteCallbackProblem(e);
            LibCrypto.X509_STORE_CTX_set_error(store, ClientCertificateCallbacks.ErrorFor(80));
            return 0;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnSession(IntPtr ssl, IntPtr session)
    {
        try
        {
            if (SslConnection.From(ssl)?.Context?.ClientOptions?.SessionReceived is { } received && SessionCallbacks.Encode(session) is { } der)
            {
                received(der);
            }
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: the session is simply not kept.
        catch (Exception e)
#pragma warning restore CA1031
        {
            SslConnection.From(ssl)?.NoteCallbackProblem(e);
        }

        // 0: we kept no reference to the session.
        return 0;
    }
}
