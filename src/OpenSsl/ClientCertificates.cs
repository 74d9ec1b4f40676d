using System.Runtime.InteropServices;

namespace SslCluster.OpenSsl;

/// <summary>
/// The decision on a peer's certificate chain (a client's, or a real server's): go on, or refuse with a TLS alert (40
/// handshake_failure, 42 bad_certificate, 44 certificate_revoked, 45 certificate_expired, 46 certificate_unknown, 48
/// unknown_ca). <paramref name="Outcome"/> is the caller's record, kept on the connection
/// (<see cref="SslConnection.PeerVerdict"/>).
/// </summary>
public readonly record struct CertificateVerdict(bool Accept, int RefusalAlert, object? Outcome);

/// <summary>Client authentication of an ssl-server: whom to name in the request, whether a certificate is required, who decides.</summary>
public sealed record ClientCertificateOptions
{
    /// <summary>The subject names (DER) of the CAs the certificate request lists.</summary>
    public required IReadOnlyList<byte[]> AuthorityNames { get; init; }

    /// <summary>A client without a certificate fails the handshake (certificate_required in TLS 1.3, handshake_failure in TLS 1.2).</summary>
    public required bool Require { get; init; }

    /// <summary>
    /// Decides on a chain (leaf first, DER; only the leaf when a session resumes): called inside the handshake and when
    /// a session or ticket of a client-authenticated connection comes back, so a certificate revoked since then does
    /// not resume. Must not throw and must not block.
    /// </summary>
    public required Func<IReadOnlyList<byte[]>, CertificateVerdict> Verify { get; init; }
}

/// <summary>The verify callback of an ssl-server context with client authentication, and the re-check of a resumed session.</summary>
internal static unsafe class ClientCertificateCallbacks
{
    public static void Install(IntPtr ctx, ClientCertificateOptions options)
    {
        var names = LibCrypto.OPENSSL_sk_new_null();
        if (names == IntPtr.Zero)
        {
            throw new OpenSslException("OPENSSL_sk_new_null failed: " + OpenSslErrors.Drain());
        }

        foreach (var der in options.AuthorityNames)
        {
            fixed (byte* start = der)
            {
                byte* p = start;
                var name = LibCrypto.d2i_X509_NAME(IntPtr.Zero, ref p, der.Length);
                if (name == IntPtr.Zero || LibCrypto.OPENSSL_sk_push(names, name) == 0)
                {
                    if (name != IntPtr.Zero)
                    {
                        LibCrypto.X509_NAME_free(name);
                    }

                    FreeNames(names);
                    throw new OpenSslException("OpenSSL could not read a CA subject name: " + OpenSslErrors.Drain());
                }
            }
        }

        // The context owns the list from here.
        LibSsl.SSL_CTX_set_client_CA_list(ctx, names);
        LibSsl.SSL_CTX_set_cert_verify_callback(ctx, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int>)&OnVerify, IntPtr.Zero);
    }

    /// <summary>The verify mode of a connection switched to an ssl-server with client authentication.</summary>
    public static void Request(IntPtr ssl, ClientCertificateOptions options) =>
        LibSsl.SSL_set_verify(ssl, LibSsl.VerifyPeer | LibSsl.VerifyClientOnce | (options.Require ? LibSsl.VerifyFailIfNoPeerCert : 0), IntPtr.Zero);

    /// <summary>
    /// Whether a session coming back (by ID or ticket) may resume on this connection: under client authentication its
    /// stored certificate is decided on again now, and the verdict becomes the connection's.
    /// </summary>
    public static bool MayResume(SslConnection connection, IntPtr session)
    {
        if (connection.SelectedContext?.ClientCertificates is not { } options)
        {
            return true;
        }

        var peer = LibSsl.SSL_SESSION_get0_peer(session);
        var verdict = options.Verify(peer == IntPtr.Zero ? [] : [Der(peer)]);
        if (!verdict.Accept)
        {
            return false;
        }

        // Kept apart from a fresh verdict: OpenSSL may still decline this session (its lifetime, its session-ID
        // context) and do a full handshake, in which the client may send no certificate at all.
        connection.SessionVerdict = verdict.Outcome;
        return true;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnVerify(IntPtr store, IntPtr arg)
    {
        SslConnection? connection = null;
        try
        {
            var ssl = LibCrypto.X509_STORE_CTX_get_ex_data(store, LibSsl.SSL_get_ex_data_X509_STORE_CTX_idx());
            connection = SslConnection.From(ssl);
            if (connection?.SelectedContext?.ClientCertificates is not { } options)
            {
                LibCrypto.X509_STORE_CTX_set_error(store, ErrorFor(40));
                return 0;
            }

            var verdict = options.Verify(ChainOf(store));
            connection.PeerVerdict = verdict.Outcome;
            connection.PeerRefused = !verdict.Accept;
            if (verdict.Accept)
            {
                return 1;
            }

            LibCrypto.X509_STORE_CTX_set_error(store, ErrorFor(verdict.RefusalAlert));
            return 0;
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: the handshake fails instead.
        catch (Exception e)
#pragma warning restore CA1031
        {
            connection?.NoteCallbackProblem(e);
            LibCrypto.X509_STORE_CTX_set_error(store, ErrorFor(80));
            return 0;
        }
    }

    /// <summary>
    /// The X509 error OpenSSL turns into the alert we want (its table x509err -> alert, ssl/statem/statem_lib.c):
    /// an error the table does not list becomes certificate_unknown.
    /// </summary>
    internal static int ErrorFor(int alert) => alert switch
    {
        40 => 50, // X509_V_ERR_APPLICATION_VERIFICATION -> handshake_failure
        42 => 27, // X509_V_ERR_CERT_UNTRUSTED -> bad_certificate
        44 => 23, // X509_V_ERR_CERT_REVOKED -> certificate_revoked
        45 => 10, // X509_V_ERR_CERT_HAS_EXPIRED -> certificate_expired
        48 => 20, // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY -> unknown_ca
        80 => 1, // X509_V_ERR_UNSPECIFIED -> internal_error
        _ => 29, // X509_V_ERR_SUBJECT_ISSUER_MISMATCH, not in the table -> certificate_unknown
    };

    /// <summary>The chain as the peer sent it, leaf first (DER), from a verify callback's store.</summary>
    internal static byte[][] ChainOf(IntPtr store)
    {
        var sent = LibCrypto.X509_STORE_CTX_get0_untrusted(store);
        int count = sent == IntPtr.Zero ? 0 : LibCrypto.OPENSSL_sk_num(sent);
        var chain = new byte[Math.Max(0, count)][];
        for (int i = 0; i < chain.Length; i++)
        {
            chain[i] = Der(LibCrypto.OPENSSL_sk_value(sent, i));
        }

        return chain;
    }

    private static byte[] Der(IntPtr x509)
    {
        byte* none = null;
        int length = LibCrypto.i2d_X509(x509, ref none);
        if (length <= 0)
        {
            return [];
        }

        var der = new byte[length];
        fixed (byte* start = der)
        {
            byte* p = start;
            _ = LibCrypto.i2d_X509(x509, ref p);
        }

        return der;
    }

    private static void FreeNames(IntPtr names)
    {
        int count = LibCrypto.OPENSSL_sk_num(names);
        for (int i = 0; i < count; i++)
        {
            LibCrypto.X509_NAME_free(LibCrypto.OPENSSL_sk_value(names, i));
        }

        LibCrypto.OPENSSL_sk_free(names);
    }
}
