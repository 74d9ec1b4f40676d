using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace SslCluster.OpenSsl;

/// <summary>A certificate chain (leaf first, DER) and the leaf's private key (PKCS#8 DER).</summary>
public sealed record ServerCertificate(IReadOnlyList<byte[]> ChainDer, byte[] PrivateKeyPkcs8)
{
    /// <summary>
    /// The OCSP response (DER) to staple when a handshake uses this certificate and the client asks (status_request),
    /// read on every such handshake, so it must only return what it holds; null: nothing to staple now.
    /// </summary>
    public Func<byte[]?>? StatusResponse { get; init; }
}

/// <summary>What a server context of one ssl-server holds. Versions are 0x0303 (TLS 1.2) and 0x0304 (TLS 1.3).</summary>
public sealed record ServerContextOptions
{
    /// <summary>One certificate per key type at most (an RSA and an ECDSA one: OpenSSL picks by what the client supports).</summary>
    public required IReadOnlyList<ServerCertificate> Certificates { get; init; }

    /// <summary>TLS 1.2 suites in OpenSSL's cipher-list syntax (for example "ECDHE-RSA-AES128-GCM-SHA256"); null: none set here.</summary>
    public string? CipherList { get; init; }

    /// <summary>TLS 1.3 suites (for example "TLS_AES_128_GCM_SHA256"); null: none set here.</summary>
    public string? CipherSuites { get; init; }

    /// <summary>
    /// Scope of resumption: a session resumes only on a context with the same bytes (at most 32; longer values are
    /// hashed). Must be byte-identical on every node.
    /// </summary>
    public required string SessionIdContext { get; init; }

    /// <summary>Lowest TLS version this ssl-server accepts (0x0303 or 0x0304); null leaves the listener's.</summary>
    public int? MinVersion { get; init; }

    /// <summary>Highest TLS version this ssl-server accepts; null leaves the listener's.</summary>
    public int? MaxVersion { get; init; }

    /// <summary>Client authentication; null: clients are not asked for a certificate.</summary>
    public ClientCertificateOptions? ClientCertificates { get; init; }

    /// <summary>
    /// The application protocols this ssl-server accepts by ALPN, in its order of preference (for example
    /// <c>http/1.1</c>); null or empty: the client's ALPN offer is not answered.
    /// </summary>
    public IReadOnlyList<string>? ApplicationProtocols { get; init; }

}

/// <summary>What every connection of a listener shares before SNI picks an ssl-server.</summary>
public sealed record FrontContextOptions
{
    public int MinVersion { get; init; } = 0x0303;

    public int MaxVersion { get; init; } = 0x0304;

    /// <summary>Key exchange groups, strongest-and-fastest first.</summary>
    public string Groups { get; init; } = "X25519:P-256:P-384";

    /// <summary>Where sessions and ticket keys live; null: nothing resumes.</summary>
    public ITlsSessionHooks? Sessions { get; init; }

    /// <summary>How long a session stays resumable (OpenSSL checks it too, from the session itself).</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// An OpenSSL <c>SSL_CTX</c>: either the front context of a listener (versions, groups, options, the SNI callback;
/// every SSL starts on it) or the context of one ssl-server (certificates, suites, session scope), which the SNI
/// callback switches a connection to. Immutable once built; thread-safe to use from any number of connections.
/// </summary>
public sealed unsafe class SslContext : IDisposable
{
    /// <summary>
    /// Protocol hardening common to every context: no compression, no renegotiation (client-initiated or ours), the
    /// server's suite order. OpenSSL 3 has no heartbeat.
    /// </summary>
    private const ulong HardeningOptions = LibSsl.OpNoCompression | LibSsl.OpNoRenegotiation | LibSsl.OpCipherServerPreference;

    private readonly SafeSslContextHandle _handle;

    // The binding's suites, NUL-terminated, applied to the SSL itself after SNI (SSL_set_SSL_CTX does not copy them).
    private readonly byte[]? _cipherList;
    private readonly byte[]? _cipherSuites;

    private readonly int _minVersion;
    private readonly int _maxVersion;

    // A listener's front only: its options, its variants with ssl-servers' suites, and the one new connections start on.
    private const int MaxVariants = 8;
    private readonly Lock _variantsLock = new();
    private FrontContextOptions? _frontOptions;
    private SslContext[] _variants = [];
    private SslContext? _preferred;
    private int _variantPending;

    private SslContext(SafeSslContextHandle handle, byte[]? cipherList, byte[]? cipherSuites, object? tag, int minVersion = 0, int maxVersion = 0)
    {
        _minVersion = minVersion;
        _maxVersion = maxVersion;
        _handle = handle;
        _cipherList = cipherList;
        _cipherSuites = cipherSuites;
        Tag = tag;
    }

    /// <summary>The caller's value (the ssl-server binding), handed back by <see cref="SslConnection.SelectedContext"/>.</summary>
    public object? Tag { get; }

    internal IntPtr Handle => _handle.DangerousGetHandle();

    /// <summary>A client context's options (server verification, session capture).</summary>
    internal ClientContextOptions? ClientOptions { get; private init; }

    /// <summary>An ssl-server context's client authentication.</summary>
    internal ClientCertificateOptions? ClientCertificates { get; private init; }

    /// <summary>
    /// An ssl-server context's OCSP response sources, each with its certificate's X509 (owned by the context, and shared
    /// by SNI's copy of it), to staple the status of the certificate a handshake chose.
    /// </summary>
    internal (IntPtr Certificate, Func<byte[]?> Source)[] Staples { get; private init; } = [];

    /// <summary>
    /// A client asked for the certificate's status: the current OCSP response goes with the handshake when there is one
    /// and the handshake uses the certificate it is for. OpenSSL frees the copy it is given.
    /// </summary>
    [System.Runtime.InteropServices.UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnStatusRequest(IntPtr ssl, IntPtr arg)
    {
        const int Ok = 0;
        const int NoAck = 3;
        try
        {
            if (SslConnection.From(ssl)?.SelectedContext is not { Staples.Length: > 0 } context)
            {
                return NoAck;
            }

            var chosen = LibSsl.SSL_get_certificate(ssl);
            var staple = Array.Find(context.Staples, s => s.Certificate == chosen);
            if (staple.Source?.Invoke() is not { Length: > 0 } response)
            {
                return NoAck;
            }

            var copy = LibCrypto.CRYPTO_malloc((nuint)response.Length, null, 0);
            if (copy == IntPtr.Zero)
            {
                return NoAck;
            }

            response.CopyTo(new Span<byte>((void*)copy, response.Length));
            if (LibSsl.SSL_ctrl(ssl, LibSsl.Ctrl.SetTlsextStatusReqOcspResp, response.Length, copy) != 1)
            {
                LibCrypto.CRYPTO_free(copy, null, 0);
                return NoAck;
            }

            return Ok;
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: no staple instead.
        catch (Exception)
#pragma warning restore CA1031
        {
            return NoAck;
        }
    }

    /// <summary>An ssl-server context's ALPN protocols, each as its bytes, in preference order (empty: none).</summary>
    internal byte[][] ApplicationProtocols { get; private init; } = [];

    /// <summary>A front context's session hooks.</summary>
    internal ITlsSessionHooks? Sessions { get; private init; }

    /// <summary>The context every connection of a listener starts on; SNI then moves it to an ssl-server's context.</summary>
    public static SslContext CreateFront(FrontContextOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        OpenSslLibrary.EnsureAvailable();
        if (options.MinVersion is not (0x0303 or 0x0304) || options.MaxVersion is not (0x0303 or 0x0304) || options.MinVersion > options.MaxVersion)
        {
            throw new ArgumentException($"versions must be TLS 1.2 (0x0303) or TLS 1.3 (0x0304), min <= max; got {options.MinVersion:x4}-{options.MaxVersion:x4}");
        }

        var front = CreateFront(options, null, null);
        front._frontOptions = options;
        return front;
    }

    /// <summary>A front context; with suites, a variant of a listener's front that starts connections on them.</summary>
    private static SslContext CreateFront(FrontContextOptions options, byte[]? cipherList, byte[]? cipherSuites)
    {
        var handle = NewContext(server: true);
        try
        {
            var ctx = handle.DangerousGetHandle();
            Check(LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetMinProtoVersion, options.MinVersion, IntPtr.Zero) == 1, "set the lowest TLS version");
            Check(LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetMaxProtoVersion, options.MaxVersion, IntPtr.Zero) == 1, "set the highest TLS version");
            WithUtf8(options.Groups, p => Check(LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetGroupsList, 0, (IntPtr)p) == 1, $"set the groups '{options.Groups}'"));
            SetSuites(ctx, cipherList, cipherSuites);

            // Sessions live in the caller's store and tickets under the caller's keys, never in OpenSSL's own cache
            // or under keys of this process: that is what makes them resume on every node.
            LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetSessCacheMode, (nint)LibSsl.SessCacheOff, IntPtr.Zero);
            if (options.Sessions is { } sessions)
            {
                SessionCallbacks.Install(ctx, sessions, options.SessionTimeout);
            }

            if (options.Sessions is not { IssuesTickets: true })
            {
                LibSsl.SSL_CTX_set_options(ctx, LibSsl.OpNoTicket);
                Check(LibSsl.SSL_CTX_set_num_tickets(ctx, 0) == 1, "turn off TLS 1.3 tickets");
            }

            // The ssl-server is chosen in the ClientHello callback: it runs before OpenSSL picks the version and the
            // TLS 1.3 suite (the servername callback runs after that, too late for both); the servername callback then
            // only acknowledges the name.
            LibSsl.SSL_CTX_set_client_hello_cb(ctx, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int*, IntPtr, int>)&SslConnection.OnClientHello, IntPtr.Zero);
            LibSsl.SSL_CTX_callback_ctrl(ctx, LibSsl.Ctrl.SetTlsextServernameCb, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int*, IntPtr, int>)&SslConnection.OnServerName);
            return new SslContext(handle, cipherList, cipherSuites, null) { Sessions = options.Sessions };
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The context a new connection of this listener starts on: the front, or the variant of it with the suites of the
    /// ssl-server its last ClientHello chose, so that SNI usually finds the suites in place (see <see cref="ApplyTo"/>).
    /// </summary>
    internal SslContext StartContext => Volatile.Read(ref _preferred) ?? this;

    /// <summary>
    /// A connection started on <paramref name="start"/> (this front or one of its variants) chose
    /// <paramref name="chosen"/>, whose suites <paramref name="start"/> does not have: later connections start on a
    /// variant that has them. The variant is built on the thread pool, off the handshake, at most
    /// <see cref="MaxVariants"/> of them per front; past that, connections go on setting the suites themselves.
    /// </summary>
    internal void PreferSuitesOf(SslContext chosen)
    {
        if (_frontOptions is null)
        {
            return;
        }

        var variants = Volatile.Read(ref _variants);
        foreach (var variant in variants)
        {
            if (variant.HasSuitesOf(chosen))
            {
                Volatile.Write(ref _preferred, variant);
                return;
            }
        }

        if (variants.Length >= MaxVariants || Interlocked.Exchange(ref _variantPending, 1) == 1)
        {
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            var (front, list, suites) = state;
            try
            {
                var variant = CreateFront(front._frontOptions!, list, suites);
                lock (front._variantsLock)
                {
                    front._variants = [.. front._variants, variant];
                }

                Volatile.Write(ref front._preferred, variant);
            }
#pragma warning disable CA1031 // A variant is only a shortcut: without it, connections set their suites themselves.
            catch (Exception)
#pragma warning restore CA1031
            {
                OpenSslErrors.Clear();
            }
            finally
            {
                Volatile.Write(ref front._variantPending, 0);
            }
        }, (this, chosen._cipherList, chosen._cipherSuites), preferLocal: false);
    }

    /// <summary>Whether a connection started on this context already has <paramref name="other"/>'s suites.</summary>
    internal bool HasSuitesOf(SslContext other) =>
        SameBytes(_cipherList, other._cipherList) && SameBytes(_cipherSuites, other._cipherSuites);

    private static bool SameBytes(byte[]? a, byte[]? b) =>
        ReferenceEquals(a, b) || (a is not null && b is not null && a.AsSpan().SequenceEqual(b));

    private static void SetSuites(IntPtr ctx, byte[]? cipherList, byte[]? cipherSuites)
    {
        if (cipherList is not null)
        {
            fixed (byte* p = cipherList)
            {
                Check(LibSsl.SSL_CTX_set_cipher_list(ctx, p) == 1, $"use the TLS 1.2 cipher list '{Encoding.UTF8.GetString(cipherList.AsSpan(0, cipherList.Length - 1))}'");
            }
        }

        if (cipherSuites is not null)
        {
            fixed (byte* p = cipherSuites)
            {
                Check(LibSsl.SSL_CTX_set_ciphersuites(ctx, p) == 1, $"use the TLS 1.3 suites '{Encoding.UTF8.GetString(cipherSuites.AsSpan(0, cipherSuites.Length - 1))}'");
            }
        }
    }

    /// <summary>
    /// The context of one ssl-server. Fails (with OpenSSL's reason) on a certificate or key OpenSSL cannot read, a key
    /// that is not the certificate's, or a suite list with nothing OpenSSL knows.
    /// </summary>
    public static SslContext CreateServer(ServerContextOptions options, object? tag = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OpenSslLibrary.EnsureAvailable();
        if (options.Certificates.Count == 0)
        {
            throw new ArgumentException("an ssl-server context needs at least one certificate and key");
        }

        if (options.MinVersion is { } min && min is not (0x0303 or 0x0304) || options.MaxVersion is { } max && max is not (0x0303 or 0x0304) ||
            options.MinVersion > options.MaxVersion)
        {
            throw new ArgumentException($"an ssl-server's versions must be TLS 1.2 (0x0303) or TLS 1.3 (0x0304), min <= max; got {options.MinVersion:x4}-{options.MaxVersion:x4}");
        }

        var handle = NewContext(server: true);
        try
        {
            var ctx = handle.DangerousGetHandle();
            var staples = new List<(IntPtr, Func<byte[]?>)>();
            foreach (var certificate in options.Certificates)
            {
                UseCertificate(ctx, certificate);
                if (certificate.StatusResponse is { } source)
                {
                    // The X509 just set is the context's current one until the next certificate is set.
                    staples.Add((LibSsl.SSL_CTX_get0_certificate(ctx), source));
                }
            }

            if (staples.Count > 0)
            {
                LibSsl.SSL_CTX_callback_ctrl(ctx, LibSsl.Ctrl.SetTlsextStatusReqCb, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int>)&OnStatusRequest);
            }

            byte[]? cipherList = options.CipherList is { } list ? Utf8Z(list) : null;
            byte[]? cipherSuites = options.CipherSuites is { } suites ? Utf8Z(suites) : null;
            SetSuites(ctx, cipherList, cipherSuites);

            Span<byte> sid = stackalloc byte[32];
            int sidLength = SessionIdContextBytes(options.SessionIdContext, sid);
            fixed (byte* p = sid)
            {
                Check(LibSsl.SSL_CTX_set_session_id_context(ctx, p, (uint)sidLength) == 1, "set the session ID context");
            }

            if (options.ClientCertificates is { } clientCertificates)
            {
                ClientCertificateCallbacks.Install(ctx, clientCertificates);
            }

            var protocols = Alpn.Encode(options.ApplicationProtocols);
            if (protocols.Length > 0)
            {
                Alpn.Install(ctx);
            }

            return new SslContext(handle, cipherList, cipherSuites, tag, options.MinVersion ?? 0, options.MaxVersion ?? 0)
            {
                ClientCertificates = options.ClientCertificates,
                ApplicationProtocols = protocols,
                Staples = [.. staples],
            };
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>A client context (see <see cref="SslClient.CreateContext"/>).</summary>
    internal static SslContext CreateClient(ClientContextOptions options, object? tag)
    {
        OpenSslLibrary.EnsureAvailable();
        var handle = NewContext(server: false);
        try
        {
            var ctx = handle.DangerousGetHandle();
            Check(LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetMinProtoVersion, options.MinVersion, IntPtr.Zero) == 1, "set the lowest TLS version");
            Check(LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetMaxProtoVersion, options.MaxVersion, IntPtr.Zero) == 1, "set the highest TLS version");
            WithUtf8(options.Groups, p => Check(LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetGroupsList, 0, p) == 1, $"set the groups '{options.Groups}'"));
            if (options.CipherList is { } list)
            {
                WithUtf8(list, p => Check(LibSsl.SSL_CTX_set_cipher_list(ctx, (byte*)p) == 1, $"use the TLS 1.2 cipher list '{list}'"));
            }

            if (options.CipherSuites is { } suites)
            {
                WithUtf8(suites, p => Check(LibSsl.SSL_CTX_set_ciphersuites(ctx, (byte*)p) == 1, $"use the TLS 1.3 suites '{suites}'"));
            }

            if (options.ClientCertificate is { } certificate)
            {
                UseCertificate(ctx, certificate);
            }

            ClientCallbacks.Install(ctx, options);
            return new SslContext(handle, null, null, tag) { ClientOptions = options };
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Applies this context's versions and suites to a connection switched to it by SNI (SSL_set_SSL_CTX copies
    /// neither). The suites only when the context the connection started on has other ones: setting them parses the
    /// cipher strings and rebuilds the connection's list, which was a tenth of the CPU of a resumed handshake.
    /// </summary>
    internal bool ApplyTo(IntPtr ssl, SslContext start)
    {
        if (_minVersion != 0 && LibSsl.SSL_ctrl(ssl, LibSsl.Ctrl.SetMinProtoVersion, _minVersion, IntPtr.Zero) != 1)
        {
            return false;
        }

        if (_maxVersion != 0 && LibSsl.SSL_ctrl(ssl, LibSsl.Ctrl.SetMaxProtoVersion, _maxVersion, IntPtr.Zero) != 1)
        {
            return false;
        }

        if (ClientCertificates is { } clientCertificates)
        {
            ClientCertificateCallbacks.Request(ssl, clientCertificates);
        }

        if (start.HasSuitesOf(this))
        {
            return true;
        }

        // What this context leaves unset is OpenSSL's default, which a variant the connection started on replaced.
        fixed (byte* list = _cipherList, suites = _cipherSuites)
        {
            byte* tls12 = list != null ? list : start._cipherList is null ? null : LibSsl.OSSL_default_cipher_list();
            byte* tls13 = suites != null ? suites : start._cipherSuites is null ? null : LibSsl.OSSL_default_ciphersuites();
            return (tls12 == null || LibSsl.SSL_set_cipher_list(ssl, tls12) == 1) &&
                (tls13 == null || LibSsl.SSL_set_ciphersuites(ssl, tls13) == 1);
        }
    }

    /// <summary>Keeps the handle alive across a native call that uses <see cref="Handle"/>.</summary>
    internal void KeepAlive() => GC.KeepAlive(_handle);

    /// <summary>Releases our reference; connections using the context keep theirs.</summary>
    public void Dispose()
    {
        _handle.Dispose();
        foreach (var variant in Volatile.Read(ref _variants))
        {
            variant.Dispose();
        }
    }

    /// <summary>The bytes of a session-ID context: the text itself when it fits 32 bytes, else its SHA-256.</summary>
    internal static int SessionIdContextBytes(string text, Span<byte> destination)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        if (length <= 32)
        {
            return Encoding.UTF8.GetBytes(text, destination);
        }

        Span<byte> utf8 = length <= 1024 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(text, utf8);
        return SHA256.HashData(utf8, destination);
    }

    private static SafeSslContextHandle NewContext(bool server)
    {
        OpenSslErrors.Clear();
        var ctx = LibSsl.SSL_CTX_new(server ? LibSsl.TLS_server_method() : LibSsl.TLS_client_method());
        if (ctx == IntPtr.Zero)
        {
            throw new OpenSslException("SSL_CTX_new failed: " + OpenSslErrors.Drain());
        }

        var handle = SafeSslContextHandle.Take(ctx);
        LibSsl.SSL_CTX_set_options(ctx, HardeningOptions);

        // Idle connections give their 16 KiB record buffers back; our pooled buffers move between writes.
        LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.Mode, (nint)(LibSsl.ModeReleaseBuffers | LibSsl.ModeAcceptMovingWriteBuffer), IntPtr.Zero);
        return handle;
    }

    private static void UseCertificate(IntPtr ctx, ServerCertificate certificate)
    {
        if (certificate.ChainDer.Count == 0)
        {
            throw new ArgumentException("a certificate chain is empty: give at least the ssl-server's certificate");
        }

        var leaf = ParseCertificate(certificate.ChainDer[0], "the certificate");
        try
        {
            Check(LibSsl.SSL_CTX_use_certificate(ctx, leaf) == 1, "use the certificate");
        }
        finally
        {
            // SSL_CTX_use_certificate took its own reference.
            LibCrypto.X509_free(leaf);
        }

        var key = ParsePrivateKey(certificate.PrivateKeyPkcs8);
        try
        {
            Check(LibSsl.SSL_CTX_use_PrivateKey(ctx, key) == 1, "use the private key");
        }
        finally
        {
            LibCrypto.EVP_PKEY_free(key);
        }

        Check(LibSsl.SSL_CTX_check_private_key(ctx) == 1, "match the private key with the certificate");
        for (int i = 1; i < certificate.ChainDer.Count; i++)
        {
            var intermediate = ParseCertificate(certificate.ChainDer[i], $"chain certificate {i}");
            try
            {
                // SSL_CTX_add1_chain_cert: to the certificate just set, with a reference of its own.
                Check(LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.ChainCert, 1, intermediate) == 1, $"add chain certificate {i}");
            }
            finally
            {
                LibCrypto.X509_free(intermediate);
            }
        }
    }

    private static IntPtr ParseCertificate(byte[] der, string what)
    {
        OpenSslErrors.Clear();
        fixed (byte* start = der)
        {
            byte* p = start;
            var x509 = LibCrypto.d2i_X509(IntPtr.Zero, ref p, der.Length);
            if (x509 == IntPtr.Zero)
            {
                throw new OpenSslException($"OpenSSL could not read {what} (DER, {der.Length} bytes): {OpenSslErrors.Drain()}");
            }

            return x509;
        }
    }

    private static IntPtr ParsePrivateKey(byte[] pkcs8)
    {
        OpenSslErrors.Clear();
        fixed (byte* start = pkcs8)
        {
            byte* p = start;
            var key = LibCrypto.d2i_AutoPrivateKey(IntPtr.Zero, ref p, pkcs8.Length);
            if (key == IntPtr.Zero)
            {
                throw new OpenSslException("OpenSSL could not read the private key (PKCS#8 DER): " + OpenSslErrors.Drain());
            }

            return key;
        }
    }

    private static void Check(bool ok, string what)
    {
        if (!ok)
        {
            throw new OpenSslException($"OpenSSL could not {what}: {OpenSslErrors.Drain()}");
        }
    }

    private static byte[] Utf8Z(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    private static void WithUtf8(string text, Action<IntPtr> use)
    {
        var bytes = Utf8Z(text);
        fixed (byte* p = bytes)
        {
            use((IntPtr)p);
        }
    }
}
