using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace SslCluster.OpenSsl;

/// <summary>
/// Where a front context keeps its sessions: the caller's store of TLS 1.2 session IDs (OpenSSL keeps none itself)
/// and its ticket keys (tickets for TLS 1.2 and TLS 1.3, sealed with keys every node holds). Called from OpenSSL's
/// callbacks inside a handshake, on the connection's thread: keep each call a lookup, never blocking.
/// </summary>
public interface ITlsSessionHooks
{
    /// <summary>Whether TLS 1.2 sessions are cached by ID (<see cref="SessionCreated"/>/<see cref="FindSession"/> are called).</summary>
    bool CachesSessionIds { get; }

    /// <summary>Whether tickets are issued and opened (<see cref="CurrentTicketKey"/>/<see cref="FindTicketKey"/> are called).</summary>
    bool IssuesTickets { get; }

    /// <summary>A TLS 1.2 session made by a full handshake on <paramref name="connection"/>: its ID and its DER.</summary>
    void SessionCreated(SslConnection connection, ReadOnlySpan<byte> id, ReadOnlySpan<byte> sessionDer);

    /// <summary>The DER of the session with this ID that <paramref name="connection"/>'s ssl-server may resume, or null.</summary>
    byte[]? FindSession(SslConnection connection, ReadOnlySpan<byte> id);

    /// <summary>How long a session of <paramref name="connection"/>'s ssl-server may resume; zero: none of its sessions resumes.</summary>
    TimeSpan SessionLifetime(SslConnection connection);

    /// <summary>The key new tickets are sealed with, or null to issue none.</summary>
    TicketKeyMaterial? CurrentTicketKey { get; }

    /// <summary>The key named <paramref name="name"/> if tickets under it are still accepted; <paramref name="renew"/> when it is no longer the current one.</summary>
    TicketKeyMaterial? FindTicketKey(ReadOnlySpan<byte> name, out bool renew);
}

/// <summary>
/// One ticket key as OpenSSL's ticket callback uses it: a 16-byte name, an AES-256-CBC key and an HMAC-SHA256 key,
/// in native memory with the <c>OSSL_PARAM</c> list that hands the HMAC key to OpenSSL (which copies it). Derived
/// from a secret with HKDF, so the same secret gives the same material on every node. The memory is zeroed and freed
/// by the finalizer only: a callback still using the material holds a reference to it.
/// </summary>
public sealed unsafe class TicketKeyMaterial
{
    public const int NameLength = 16;

    // "digest", "SHA256" and "key", NUL-terminated, for every key's parameter list; never freed.
    private static readonly byte* Strings = AllocateStrings();

    private readonly byte* _block;

    /// <summary>Derives the material of a ticket key; <paramref name="name"/> is public (it travels in every ticket).</summary>
    public TicketKeyMaterial(ReadOnlySpan<byte> name, ReadOnlySpan<byte> secret)
    {
        if (name.Length != NameLength)
        {
            throw new ArgumentException($"a ticket key name is {NameLength} bytes", nameof(name));
        }

        if (secret.Length < 32)
        {
            throw new ArgumentException("a ticket key secret is at least 32 bytes", nameof(secret));
        }

        // Layout: name (16) | aes key (32) | hmac key (32) | 3 OSSL_PARAMs (120).
        _block = (byte*)NativeMemory.AllocZeroed((nuint)BlockSize);
        name.CopyTo(new Span<byte>(_block, NameLength));
        HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, new Span<byte>(AesKey, 32), [], "sslcluster openssl ticket aes-256-cbc"u8);
        HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, new Span<byte>(HmacKey, 32), [], "sslcluster openssl ticket hmac-sha256"u8);
        var parameters = (OsslParam*)(_block + ParamsOffset);
        parameters[0] = new OsslParam { Key = Strings, DataType = OsslParam.Utf8String, Data = Strings + 7, DataSize = 6, ReturnSize = nuint.MaxValue };
        parameters[1] = new OsslParam { Key = Strings + 14, DataType = OsslParam.OctetString, Data = HmacKey, DataSize = 32, ReturnSize = nuint.MaxValue };
        parameters[2] = default;
    }

    ~TicketKeyMaterial()
    {
        // Null when the constructor refused its arguments.
        if (_block is not null)
        {
            CryptographicOperations.ZeroMemory(new Span<byte>(_block, BlockSize));
            NativeMemory.Free(_block);
        }
    }

    /// <summary>The key's name.</summary>
    public ReadOnlySpan<byte> Name => new(_block, NameLength);

    internal byte* NamePointer => _block;

    internal byte* AesKey => _block + NameLength;

    internal byte* HmacKey => _block + NameLength + 32;

    internal OsslParam* MacParameters => (OsslParam*)(_block + ParamsOffset);

    private static int ParamsOffset => NameLength + 64;

    private static int BlockSize => ParamsOffset + (3 * sizeof(OsslParam));

    private static byte* AllocateStrings()
    {
        var text = "digest\0SHA256\0key\0"u8;
        var p = (byte*)NativeMemory.Alloc((nuint)text.Length);
        text.CopyTo(new Span<byte>(p, text.Length));
        return p;
    }
}

/// <summary>The session callbacks of a front context (see <see cref="ITlsSessionHooks"/>).</summary>
internal static unsafe class SessionCallbacks
{
    private const int TicketNoKey = 0;
    private const int TicketOk = 1;
    private const int TicketRenew = 2;
    private const int TicketError = -1;

    public static void Install(IntPtr ctx, ITlsSessionHooks hooks, TimeSpan sessionTimeout)
    {
        // Fetched here, where a failure can be reported, never first inside a ticket callback.
        _ = Aes256Cbc;
        LibSsl.SSL_CTX_set_timeout(ctx, (nint)Math.Max(1, sessionTimeout.TotalSeconds));
        if (hooks.CachesSessionIds)
        {
            LibSsl.SSL_CTX_ctrl(ctx, LibSsl.Ctrl.SetSessCacheMode, (nint)(LibSsl.SessCacheServer | LibSsl.SessCacheNoInternal), IntPtr.Zero);
            LibSsl.SSL_CTX_sess_set_new_cb(ctx, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int>)&OnNewSession);
            LibSsl.SSL_CTX_sess_set_get_cb(ctx, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, byte*, int, int*, IntPtr>)&OnGetSession);
        }

        // Before a ticket is sealed: the session gets its ssl-server's lifetime (OpenSSL checks it when it resumes).
        LibSsl.SSL_CTX_set_session_ticket_cb(ctx, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int>)&OnGenerateTicket,
            (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, byte*, nuint, int, IntPtr, int>)&OnTicketDecrypted, IntPtr.Zero);
        if (hooks.IssuesTickets)
        {
            if (LibSsl.SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, byte*, byte*, IntPtr, IntPtr, int, int>)&OnTicketKey) != 1)
            {
                throw new OpenSslException("OpenSSL refused the ticket key callback: " + OpenSslErrors.Drain());
            }
        }
    }

    /// <summary>A new session: TLS 1.2 ones (not TLS 1.3 tickets, which also come here) go to the caller's ID cache.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnNewSession(IntPtr ssl, IntPtr session)
    {
        try
        {
            if (LibSsl.SSL_SESSION_get_protocol_version(session) != 0x0303 || SslConnection.From(ssl) is not { Hooks: { } hooks } connection ||
                connection.TicketIssued)
            {
                // A client given a ticket resumes with it: its ID would only crowd out clients without tickets.
                return 0;
            }

            byte* id = LibSsl.SSL_SESSION_get_id(session, out uint idLength);
            var lifetime = hooks.SessionLifetime(connection);
            if (idLength == 0 || lifetime <= TimeSpan.Zero)
            {
                return 0;
            }

            _ = LibSsl.SSL_SESSION_set_timeout(session, (nint)lifetime.TotalSeconds);

            if (Encode(session) is not { } der)
            {
                return 0;
            }

            try
            {
                hooks.SessionCreated(connection, new ReadOnlySpan<byte>(id, (int)idLength), der);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(der);
            }
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: the session is simply not cached.
        catch (Exception e)
#pragma warning restore CA1031
        {
            SslConnection.From(ssl)?.NoteCallbackProblem(e);
        }

        // 0: we kept no reference to the session.
        return 0;
    }

    /// <summary>A session's DER (it holds the master secret: the caller zeroes it after use), or null when it cannot be encoded.</summary>
    internal static byte[]? Encode(IntPtr session)
    {
        byte* none = null;
        int length = LibSsl.i2d_SSL_SESSION(session, ref none);
        if (length <= 0 || length > 64 * 1024)
        {
            return null;
        }

        var der = new byte[length];
        fixed (byte* start = der)
        {
            byte* p = start;
            return LibSsl.i2d_SSL_SESSION(session, ref p) == length ? der : null;
        }
    }

    /// <summary>A ticket is about to be made from this connection's session: it gets its ssl-server's lifetime.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnGenerateTicket(IntPtr ssl, IntPtr arg)
    {
        try
        {
            if (SslConnection.From(ssl) is { Hooks: { } hooks } connection && hooks.SessionLifetime(connection) is var lifetime && lifetime > TimeSpan.Zero)
            {
                _ = LibSsl.SSL_SESSION_set_timeout(LibSsl.SSL_get_session(ssl), (nint)lifetime.TotalSeconds);
            }
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: the ticket keeps the default lifetime.
        catch (Exception e)
#pragma warning restore CA1031
        {
            SslConnection.From(ssl)?.NoteCallbackProblem(e);
        }

        return 1;
    }

    /// <summary>
    /// A ticket was opened (or not): OpenSSL's default answers, except that under client authentication the
    /// certificate in the session is decided on again, and a refused one gives a full handshake.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnTicketDecrypted(IntPtr ssl, IntPtr session, byte* keyName, nuint keyNameLength, int status, IntPtr arg)
    {
        const int Abort = 0, Ignore = 1, IgnoreRenew = 2, Use = 3, UseRenew = 4;
        try
        {
            switch (status)
            {
                case 5 or 6: // SSL_TICKET_SUCCESS, SSL_TICKET_SUCCESS_RENEW
                    if (SslConnection.From(ssl) is { } connection && !ClientCertificateCallbacks.MayResume(connection, session))
                    {
                        return IgnoreRenew;
                    }

                    return status == 5 ? Use : UseRenew;
                case 2: // SSL_TICKET_NONE
                    return Ignore;
                case 3 or 4: // SSL_TICKET_EMPTY, SSL_TICKET_NO_DECRYPT
                    return IgnoreRenew;
                default:
                    return Abort;
            }
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: a full handshake follows.
        catch (Exception e)
#pragma warning restore CA1031
        {
            SslConnection.From(ssl)?.NoteCallbackProblem(e);
            return IgnoreRenew;
        }
    }

    /// <summary>A client offers a TLS 1.2 session ID: the session from the caller's cache, handed to OpenSSL (copy = 0).</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static IntPtr OnGetSession(IntPtr ssl, byte* id, int idLength, int* copy)
    {
        *copy = 0;
        try
        {
            if (idLength <= 0 || SslConnection.From(ssl) is not { Hooks: { } hooks } connection ||
                hooks.FindSession(connection, new ReadOnlySpan<byte>(id, idLength)) is not { } der)
            {
                return IntPtr.Zero;
            }

            try
            {
                fixed (byte* start = der)
                {
                    byte* p = start;
                    var session = LibSsl.d2i_SSL_SESSION(IntPtr.Zero, ref p, der.Length);
                    if (session == IntPtr.Zero)
                    {
                        OpenSslErrors.Clear();
                        return IntPtr.Zero;
                    }

                    bool keep = false;
                    try
                    {
                        keep = ClientCertificateCallbacks.MayResume(connection, session);
                    }
                    finally
                    {
                        // Handed to OpenSSL only when it may resume; freed otherwise, even if the decision threw.
                        if (!keep)
                        {
                            LibSsl.SSL_SESSION_free(session);
                        }
                    }

                    return keep ? session : IntPtr.Zero;
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(der);
            }
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: a full handshake follows.
        catch (Exception e)
#pragma warning restore CA1031
        {
            SslConnection.From(ssl)?.NoteCallbackProblem(e);
            return IntPtr.Zero;
        }
    }

    /// <summary>
    /// AES-256-CBC fetched once for the process: OpenSSL 3 looks a legacy <c>EVP_aes_256_cbc()</c> up again (locks and
    /// name comparisons) on every cipher initialisation, that is twice per resumption. Held for the process's life.
    /// </summary>
    private static readonly IntPtr Aes256Cbc = FetchAes256Cbc();

    private static IntPtr FetchAes256Cbc()
    {
        fixed (byte* name = "AES-256-CBC\0"u8)
        {
            var cipher = LibCrypto.EVP_CIPHER_fetch(IntPtr.Zero, name, null);
            return cipher != IntPtr.Zero ? cipher : throw new OpenSslException("EVP_CIPHER_fetch(AES-256-CBC) failed: " + OpenSslErrors.Drain());
        }
    }

    /// <summary>
    /// Seals (enc = 1) or opens (enc = 0) a ticket with the caller's keys: AES-256-CBC and HMAC-SHA256, OpenSSL's own
    /// ticket format. Opening under an unknown key gives a full handshake; under an older key, a fresh ticket.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnTicketKey(IntPtr ssl, byte* keyName, byte* iv, IntPtr cipherContext, IntPtr macContext, int encrypt)
    {
        try
        {
            if (SslConnection.From(ssl) is not { Hooks: { } hooks } connection)
            {
                return TicketNoKey;
            }

            if (encrypt == 1)
            {
                if (hooks.SessionLifetime(connection) <= TimeSpan.Zero || hooks.CurrentTicketKey is not { } current)
                {
                    return TicketNoKey;
                }

                new ReadOnlySpan<byte>(current.NamePointer, TicketKeyMaterial.NameLength).CopyTo(new Span<byte>(keyName, TicketKeyMaterial.NameLength));
                if (LibCrypto.RAND_bytes(iv, 16) != 1 ||
                    LibCrypto.EVP_EncryptInit_ex(cipherContext, Aes256Cbc, IntPtr.Zero, current.AesKey, iv) != 1 ||
                    LibCrypto.EVP_MAC_CTX_set_params(macContext, current.MacParameters) != 1)
                {
                    return TicketError;
                }

                GC.KeepAlive(current);
                connection.TicketIssued = true;
                return TicketOk;
            }

            if (hooks.FindTicketKey(new ReadOnlySpan<byte>(keyName, TicketKeyMaterial.NameLength), out bool renew) is not { } key)
            {
                return TicketNoKey;
            }

            if (LibCrypto.EVP_MAC_CTX_set_params(macContext, key.MacParameters) != 1 ||
                LibCrypto.EVP_DecryptInit_ex(cipherContext, Aes256Cbc, IntPtr.Zero, key.AesKey, iv) != 1)
            {
                return TicketError;
            }

            GC.KeepAlive(key);
            connection.TicketOpened = true;
            return renew ? TicketRenew : TicketOk;
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: no ticket, or a full handshake.
        catch (Exception e)
#pragma warning restore CA1031
        {
            SslConnection.From(ssl)?.NoteCallbackProblem(e);
            return TicketNoKey;
        }
    }
}
