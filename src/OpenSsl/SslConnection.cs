using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SslCluster.OpenSsl;

/// <summary>The outcome of one call on a <see cref="SslConnection"/>.</summary>
public enum SslStatus
{
    /// <summary>Done (handshake complete, bytes read or written).</summary>
    Ok,

    /// <summary>OpenSSL needs more ciphertext from the peer: feed it, then call again.</summary>
    WantInput,

    /// <summary>The peer sent close_notify: no more application data will come.</summary>
    Closed,

    /// <summary>The connection failed; see <see cref="SslConnection.Error"/>. An alert for the peer may be in the output.</summary>
    Failed,
}

/// <summary>
/// Takes sealed bytes for the peer as OpenSSL makes them (the socket, when it accepts them at once), so that they need
/// no buffer. Called inside the connection's SSL calls, on their thread and under the caller's serialization; it must not
/// throw, block, or call the connection.
/// </summary>
public interface IOutputSink
{
    /// <summary>Takes what it can of <paramref name="data"/> now; returns the count taken (0 to all of it).</summary>
    int TryTake(ReadOnlySpan<byte> data);
}

/// <summary>
/// One TLS connection in OpenSSL: ciphertext from the peer goes in through <see cref="Feed"/> (a memory BIO), ciphertext
/// for the peer comes out through <see cref="TakeOutput"/> or, without a copy, <see cref="TakeOutputBuffer"/> (our own
/// write BIO, <see cref="OutputBio"/>, appends it to a pooled buffer); the caller owns the socket. Not thread-safe:
/// the caller serializes every call (both copy directions of a relay share one connection). Callbacks run inside
/// <see cref="Handshake"/> (and, on a client, <see cref="Read"/>) on the calling thread; they never take the caller's
/// lock. Dispose once no call can still be running.
/// </summary>
public sealed unsafe class SslConnection : IDisposable
{
    private const int AlertInternalError = 80;
    private const int AlertUnrecognizedName = 112;

    private readonly SafeSslHandle _ssl;
    /// <summary>
    /// A memory BIO keeps the largest size it ever held: once the input BIO has held more than this (a handshake flight,
    /// a bulk transfer), <see cref="ReleaseIdleBuffers"/> replaces it when it is empty.
    /// </summary>
    private const int GrowthMark = 4096;

    /// <summary>The output buffer's first size: one full record (16 KiB of plaintext less the relay's margin) fits.</summary>
    private const int OutputBufferSize = 16 * 1024;

    private IntPtr _input;

    /// <summary>The input BIO may hold more than <see cref="GrowthMark"/> of capacity; the handshake's flights make it so.</summary>
    private bool _grown = true;

    // Ciphertext for the peer at [_outputStart, _outputEnd) of a buffer rented from ArrayPool<byte>.Shared, appended by the
    // write BIO (OutputBio) as OpenSSL seals records; none held while nothing waits.
    private byte[]? _output;
    private int _outputStart;
    private int _outputEnd;
    // Dropped once the handshake is done (no renegotiation): the caller's delegate, and what it holds, are not kept for
    // the connection's life.
    private Func<string?, SslContext?>? _select;

    // A server connection's listener front (Context is the variant of it the connection started on).
    private SslContext? _front;
    private Exception? _callbackFailure;
    // The write BIO could not take a record (no memory for the buffer, the connection gone): the stream is broken, and
    // OpenSSL may not say so (3.2 and later count a write that returned 0 without a retry flag as done).
    private Exception? _outputFailure;
    private bool _established;

    private SslConnection(SafeSslHandle ssl, IntPtr input, Func<string?, SslContext?>? select, ITlsSessionHooks? hooks)
    {
        Hooks = hooks;
        _ssl = ssl;
        _input = input;
        _select = select;
    }

    /// <summary>The ssl-server context SNI chose (its <see cref="SslContext.Tag"/> is the caller's binding), once chosen.</summary>
    public SslContext? SelectedContext { get; private set; }

    /// <summary>The SNI host name the client sent (lower case, no trailing dot), or null.</summary>
    public string? ServerName { get; private set; }

    /// <summary>True when no ssl-server answers the client's SNI name (the handshake then failed with unrecognized_name).</summary>
    public bool ServerNameRejected { get; private set; }

    /// <summary>What went wrong, after <see cref="SslStatus.Failed"/>: OpenSSL's error queue, or our callback's failure.</summary>
    public string? Error { get; private set; }

    /// <summary>The last fatal alert we sent (for example 40, handshake_failure); -1 when none.</summary>
    public int AlertSent { get; private set; } = -1;

    /// <summary>
    /// The client started a new handshake on an established TLS 1.2 connection. OpenSSL refuses it (no_renegotiation)
    /// and goes on; the caller closes the connection, as a client that tries this is not one to keep.
    /// </summary>
    public bool RenegotiationAttempted { get; private set; }

    /// <summary>The caller's record of the certificate decision made in this handshake (the verify callback); null when none was made.</summary>
    public object? PeerVerdict { get; internal set; }

    /// <summary>
    /// The caller's record of the certificate of a session offered for resumption, decided on again; it stands for
    /// the connection only when the session was really resumed (<see cref="Resumed"/>).
    /// </summary>
    public object? SessionVerdict { get; internal set; }

    /// <summary>The certificate decision that holds for this connection: the session's when it resumed, else the fresh one.</summary>
    public object? ClientVerdict => Resumed ? SessionVerdict : PeerVerdict;

    /// <summary>The client's certificate was refused by the caller's decision (the handshake then failed with its alert).</summary>
    public bool PeerRefused { get; internal set; }

    /// <summary>A ticket was sealed for the client in this handshake.</summary>
    public bool TicketIssued { get; internal set; }

    /// <summary>
    /// The client offered a ticket that one of our keys opened. A TLS 1.2 resumption by ticket takes the session ID the
    /// client put in its ClientHello (OpenSSL copies it into the session), so that ID is the client's choice.
    /// </summary>
    public bool TicketOpened { get; internal set; }

    /// <summary>A session callback failed (the session was then not cached or not resumed); null when none did.</summary>
    public string? SessionProblem { get; private set; }

    internal ITlsSessionHooks? Hooks { get; }

    /// <summary>The context the connection was created on (the front context of a server, the client context of a client).</summary>
    internal SslContext? Context { get; private init; }

    internal void NoteCallbackProblem(Exception e) => SessionProblem ??= e.GetType().Name + ": " + e.Message;

    /// <summary>The alert the peer sent when that is why the connection failed; -1 otherwise.</summary>
    public int AlertReceived { get; private set; } = -1;

    /// <summary>Ciphertext waiting to be sent to the peer.</summary>
    public int PendingOutput => _outputEnd - _outputStart;

    /// <summary>
    /// Where sealed bytes go first when nothing waits before them (<see cref="IOutputSink"/>); what it does not take
    /// waits in the output buffer. Null: everything waits there for <see cref="TakeOutput"/>.
    /// </summary>
    public IOutputSink? OutputSink { get; set; }

    /// <summary>Decrypted application bytes buffered inside OpenSSL, readable without more input.</summary>
    public int PendingInput => LibSsl.SSL_pending(Ssl);

    /// <summary>Input waiting inside OpenSSL: decrypted bytes, or ciphertext fed but not yet processed.</summary>
    public int BufferedInput => LibSsl.SSL_pending(Ssl) + (int)LibCrypto.BIO_ctrl_pending(_input);

    /// <summary>The peer's close_notify has been read.</summary>
    public bool PeerClosed => (LibSsl.SSL_get_shutdown(Ssl) & LibSsl.ReceivedShutdown) != 0;

    /// <summary>Our close_notify has been queued.</summary>
    public bool Closed => (LibSsl.SSL_get_shutdown(Ssl) & LibSsl.SentShutdown) != 0;

    /// <summary>0x0303 (TLS 1.2) or 0x0304 (TLS 1.3) once negotiated.</summary>
    public int Version => LibSsl.SSL_version(Ssl);

    /// <summary>The application protocol agreed by ALPN (for example "http/1.1"), or null when none was.</summary>
    public string? ApplicationProtocol
    {
        get
        {
            byte* data;
            uint length;
            LibSsl.SSL_get0_alpn_selected(Ssl, &data, &length);
            return length == 0 ? null : System.Text.Encoding.ASCII.GetString(data, (int)length);
        }
    }

    /// <summary>IANA code of the negotiated suite; 0 before.</summary>
    public int CipherSuite => LibSsl.SSL_get_current_cipher(Ssl) is var c && c != IntPtr.Zero ? LibSsl.SSL_CIPHER_get_protocol_id(c) : 0;

    /// <summary>The session's ID in hexadecimal (what a TLS 1.2 client offers to resume), or null when it has none.</summary>
    public string? SessionIdHex
    {
        get
        {
            var session = LibSsl.SSL_get_session(Ssl);
            if (session == IntPtr.Zero)
            {
                return null;
            }

            byte* id = LibSsl.SSL_SESSION_get_id(session, out uint length);
            return length == 0 ? null : Convert.ToHexString(new ReadOnlySpan<byte>(id, (int)length));
        }
    }

    /// <summary>The handshake resumed a session.</summary>
    public bool Resumed => LibSsl.SSL_session_reused(Ssl) == 1;

    /// <summary>
    /// The certificate this side sent (or would send) has an EC key: which of an ssl-server's two certificates (RSA and
    /// ECDSA) the handshake chose. False without a certificate.
    /// </summary>
    public bool LocalCertificateIsEc
    {
        get
        {
            const int EvpPkeyEc = 408; // NID_X9_62_id_ecPublicKey
            var certificate = LibSsl.SSL_get_certificate(Ssl);
            var key = certificate == IntPtr.Zero ? IntPtr.Zero : LibCrypto.X509_get0_pubkey(certificate);
            return key != IntPtr.Zero && LibCrypto.EVP_PKEY_get_base_id(key) == EvpPkeyEc;
        }
    }

    private IntPtr Ssl => _ssl.DangerousGetHandle();

    /// <summary>
    /// A server connection starting on <paramref name="front"/>; <paramref name="select"/> maps the client's SNI name
    /// (null without one) to the ssl-server's context, or null to refuse with unrecognized_name. It runs inside
    /// <see cref="Handshake"/>: keep it a lookup.
    /// </summary>
    public static SslConnection CreateServer(SslContext front, Func<string?, SslContext?> select)
    {
        ArgumentNullException.ThrowIfNull(front);
        ArgumentNullException.ThrowIfNull(select);
        var connection = Create(front.StartContext, select);
        connection._front = front;
        LibSsl.SSL_set_accept_state(connection.Ssl);
        return connection;
    }

    /// <summary>A client connection (see <see cref="SslClient.Connect"/>).</summary>
    internal static SslConnection CreateClient(SslContext context, string? serverName, byte[]? session, string? applicationProtocol = null)
    {
        var connection = Create(context, null);
        var ssl = connection.Ssl;
        if (context.ClientOptions is { VerifyServer: not null, RequireVerdict: true })
        {
            LibSsl.SSL_set_verify(ssl, LibSsl.VerifyPeer, IntPtr.Zero);
        }

        if (serverName is not null)
        {
            var name = System.Text.Encoding.ASCII.GetBytes(serverName + "\0");
            fixed (byte* p = name)
            {
                if (LibSsl.SSL_ctrl(ssl, LibSsl.Ctrl.SetTlsextHostname, LibSsl.TlsextNameTypeHostName, (IntPtr)p) != 1)
                {
                    connection.Dispose();
                    throw new OpenSslException($"OpenSSL refused the server name '{serverName}': {OpenSslErrors.Drain()}");
                }
            }
        }

        if (applicationProtocol is not null)
        {
            var encoded = Alpn.Encode([applicationProtocol])[0];
            var wire = new byte[encoded.Length + 1];
            wire[0] = (byte)encoded.Length;
            encoded.CopyTo(wire, 1);
            fixed (byte* p = wire)
            {
                // SSL_set_alpn_protos returns 0 on success (unlike most of OpenSSL).
                if (LibSsl.SSL_set_alpn_protos(ssl, p, (uint)wire.Length) != 0)
                {
                    connection.Dispose();
                    throw new OpenSslException($"OpenSSL refused the ALPN protocol '{applicationProtocol}': {OpenSslErrors.Drain()}");
                }
            }
        }

        if (session is not null)
        {
            fixed (byte* start = session)
            {
                byte* p = start;
                var parsed = LibSsl.d2i_SSL_SESSION(IntPtr.Zero, ref p, session.Length);
                if (parsed != IntPtr.Zero)
                {
                    // SSL_set_session takes its own reference; a session that no longer fits is simply not offered.
                    _ = LibSsl.SSL_set_session(ssl, parsed);
                    LibSsl.SSL_SESSION_free(parsed);
                }

                OpenSslErrors.Clear();
            }
        }

        LibSsl.SSL_set_connect_state(ssl);
        return connection;
    }

    private static SslConnection Create(SslContext context, Func<string?, SslContext?>? select)
    {
        OpenSslErrors.Clear();
        var ssl = LibSsl.SSL_new(context.Handle);
        context.KeepAlive();
        if (ssl == IntPtr.Zero)
        {
            throw new OpenSslException("SSL_new failed: " + OpenSslErrors.Drain());
        }

        var handle = SafeSslHandle.Take(ssl);
        var input = LibCrypto.BIO_new(LibCrypto.BIO_s_mem());
        if (input == IntPtr.Zero)
        {
            handle.Dispose();
            throw new OpenSslException("BIO_new failed: " + OpenSslErrors.Drain());
        }

        // On the SSL itself: after SNI the SSL's context is the ssl-server's, whose own callback would be used instead.
        LibSsl.SSL_set_info_callback(ssl, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int, int, void>)&OnInfo);
        var connection = new SslConnection(handle, input, select, context.Sessions) { Context = context };
        IntPtr output;
        try
        {
            output = OutputBio.New(handle.Attach(connection));
        }
        catch
        {
            LibCrypto.BIO_free(input);
            handle.Dispose();
            throw;
        }

        if (output == IntPtr.Zero)
        {
            LibCrypto.BIO_free(input);
            handle.Dispose();
            throw new OpenSslException("BIO_new failed: " + OpenSslErrors.Drain());
        }

        // From here the SSL owns both BIOs: SSL_free releases them (the write BIO before the GC handle it points at).
        LibSsl.SSL_set_bio(ssl, input, output);
        return connection;
    }

    /// <summary>
    /// Gives back the memory of the input BIO when it is empty and may have grown since the last time (a memory BIO
    /// never shrinks): an idle connection then holds OpenSSL's own state only, whatever it carried before. The output
    /// holds no buffer once it is taken. Costs nothing while the input carried small records only; when it grew, it is
    /// replaced (a BIO_new and a BIO_free), so call it when the connection goes idle, not between the records of a transfer.
    /// </summary>
    public void ReleaseIdleBuffers()
    {
        if (!_grown || LibCrypto.BIO_ctrl_pending(_input) != 0)
        {
            return;
        }

        var input = LibCrypto.BIO_new(LibCrypto.BIO_s_mem());
        if (input == IntPtr.Zero)
        {
            // Out of memory: keep the BIO it has, which works.
            OpenSslErrors.Clear();
            return;
        }

        // Frees the BIO it replaces, which is not the write BIO (a BIO of another kind).
        LibSsl.SSL_set0_rbio(Ssl, input);
        _input = input;
        _grown = false;
    }

    /// <summary>
    /// Bytes held allocated for the two directions, whatever they carry now: the input BIO's capacity (what
    /// <see cref="ReleaseIdleBuffers"/> gives back) and the output buffer's, if one is held.
    /// </summary>
    internal long BufferCapacity => Capacity(_input) + (_output?.Length ?? 0);

    private static long Capacity(IntPtr bio)
    {
        IntPtr memory = IntPtr.Zero;
        LibCrypto.BIO_ctrl(bio, LibCrypto.BioGetBufMemPtr, 0, &memory);
        // BUF_MEM is { size_t length; char *data; size_t max; unsigned long flags; }.
        return memory == IntPtr.Zero ? 0 : (long)((nuint*)memory)[2];
    }

    /// <summary>
    /// Appends sealed bytes for the peer (the write BIO, inside an SSL call): to the sink when nothing waits, and what it
    /// does not take into the free end of the buffer, else after moving what waits to its start, else into a buffer
    /// twice as large.
    /// </summary>
    internal void AppendOutput(ReadOnlySpan<byte> data)
    {
        if (_outputEnd == _outputStart && OutputSink is { } sink)
        {
            // Nothing waits before these bytes: they may leave at once, in order.
            int taken = sink.TryTake(data);
            if (taken >= data.Length)
            {
                return;
            }

            data = data[Math.Max(taken, 0)..];
        }

        if (_output is null)
        {
            _output = ArrayPool<byte>.Shared.Rent(Math.Max(OutputBufferSize, data.Length));
            (_outputStart, _outputEnd) = (0, 0);
        }
        else if (_output.Length - _outputEnd < data.Length)
        {
            int waiting = _outputEnd - _outputStart;
            if (_output.Length - waiting >= data.Length)
            {
                _output.AsSpan(_outputStart, waiting).CopyTo(_output);
            }
            else
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(2 * _output.Length, waiting + data.Length));
                _output.AsSpan(_outputStart, waiting).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_output);
                _output = larger;
            }

            (_outputStart, _outputEnd) = (0, waiting);
        }

        data.CopyTo(_output.AsSpan(_outputEnd));
        _outputEnd += data.Length;
    }

    /// <summary>Hands ciphertext from the peer to OpenSSL (a memory BIO takes everything).</summary>
    public void Feed(ReadOnlySpan<byte> ciphertext)
    {
        if (ciphertext.Length > GrowthMark) _grown = true;
        fixed (byte* p = ciphertext)
        {
            int written = LibCrypto.BIO_write(_input, p, ciphertext.Length);
            if (written != ciphertext.Length && ciphertext.Length > 0)
            {
                throw new OpenSslException($"BIO_write took {written} of {ciphertext.Length} bytes");
            }
        }
    }

    /// <summary>Copies up to <paramref name="destination"/>'s length of ciphertext for the peer out; returns the count.</summary>
    public int TakeOutput(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, PendingOutput);
        if (n == 0)
        {
            return 0;
        }

        _output.AsSpan(_outputStart, n).CopyTo(destination);
        _outputStart += n;
        if (_outputStart == _outputEnd)
        {
            ReturnOutput();
        }

        return n;
    }

    /// <summary>
    /// Hands over all the ciphertext waiting for the peer with the buffer that holds it, at
    /// [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>): no copy. The buffer is the
    /// caller's from now on, to give back to <see cref="ArrayPool{T}.Shared"/> once sent. Null when nothing waits.
    /// </summary>
    public byte[]? TakeOutputBuffer(out int start, out int count)
    {
        var buffer = _output;
        (start, count) = (_outputStart, _outputEnd - _outputStart);
        if (buffer is null || count == 0)
        {
            return null;
        }

        (_output, _outputStart, _outputEnd) = (null, 0, 0);
        return buffer;
    }

    private void ReturnOutput()
    {
        if (_output is { } buffer)
        {
            (_output, _outputStart, _outputEnd) = (null, 0, 0);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Advances the handshake with what was fed; send <see cref="TakeOutput"/> after every call.</summary>
    public SslStatus Handshake()
    {
        OpenSslErrors.Clear();
        int r = LibSsl.SSL_do_handshake(Ssl);
        if (_outputFailure is not null)
        {
            return OutputFailed();
        }

        if (r == 1)
        {
            _established = true;
            _select = null;
            return SslStatus.Ok;
        }

        return Classify(r);
    }

    /// <summary>Reads decrypted application data; <paramref name="read"/> bytes when Ok.</summary>
    public SslStatus Read(Span<byte> destination, out int read)
    {
        OpenSslErrors.Clear();
        int r;
        nuint n;
        fixed (byte* p = destination)
        {
            r = LibSsl.SSL_read_ex(Ssl, p, (nuint)destination.Length, out n);
        }

        // A read can write (a TLS 1.3 key update's answer, an alert): its output may have failed too.
        read = r == 1 && _outputFailure is null ? (int)n : 0;
        return _outputFailure is not null ? OutputFailed() : r == 1 ? SslStatus.Ok : Classify(0);
    }

    /// <summary>Seals application data into records (all of it: the output buffer grows); take the output after.</summary>
    public SslStatus Write(ReadOnlySpan<byte> data)
    {
        OpenSslErrors.Clear();
        int r;
        fixed (byte* p = data)
        {
            r = LibSsl.SSL_write_ex(Ssl, p, (nuint)data.Length, out _);
        }

        return _outputFailure is not null ? OutputFailed() : r == 1 ? SslStatus.Ok : Classify(0);
    }

    /// <summary>Notes that the write BIO could not take a record: every call fails from now on.</summary>
    internal void NoteOutputFailure(Exception e) => _outputFailure ??= e;

    private SslStatus OutputFailed()
    {
        OpenSslErrors.Clear();
        Error = "the TLS output could not be buffered: " + _outputFailure!.Message;
        return SslStatus.Failed;
    }

    /// <summary>Queues our close_notify (once); take the output after.</summary>
    public void Shutdown()
    {
        if (Closed)
        {
            return;
        }

        OpenSslErrors.Clear();
        _ = LibSsl.SSL_shutdown(Ssl);

        // A close_notify needs no answer here: the relay decides when to stop reading.
        OpenSslErrors.Clear();
        // The write BIO finds this connection through a weak handle while SSL_shutdown runs.
        GC.KeepAlive(this);
    }

    /// <summary>Frees the SSL and gives back the output buffer, if one is held; call once no call can still be running.</summary>
    public void Dispose()
    {
        _ssl.Dispose();
        ReturnOutput();
    }

    /// <summary>True once disposed: the SSL is freed and must not be called.</summary>
    public bool IsDisposed => _ssl.IsClosed;

    private SslStatus Classify(int ret)
    {
        int error = LibSsl.SSL_get_error(Ssl, ret);
        switch (error)
        {
            case LibSsl.ErrorWantRead:
            case LibSsl.ErrorWantWrite:
                // Neither BIO ever refuses a write; WANT_WRITE cannot really happen, and output is always taken.
                OpenSslErrors.Clear();
                return SslStatus.WantInput;
            case LibSsl.ErrorZeroReturn:
                OpenSslErrors.Clear();
                return SslStatus.Closed;
            default:
                if (_callbackFailure is { } failure)
                {
                    OpenSslErrors.Clear();
                    Error = "internal error in a TLS callback: " + failure.Message;
                    return SslStatus.Failed;
                }

                string text = OpenSslErrors.Drain(out int alert);
                AlertReceived = alert;
                Error = error == LibSsl.ErrorSyscall && alert < 0 && text == OpenSslErrors.Empty ? "unexpected end of the TLS stream" : text;
                return SslStatus.Failed;
        }
    }

    /// <summary>
    /// The ClientHello callback of every front context: reads the SNI name from the raw extension and moves the
    /// connection to its ssl-server's context, with that context's versions and suites, before OpenSSL negotiates.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    internal static int OnClientHello(IntPtr ssl, int* alert, IntPtr arg)
    {
        SslConnection? connection = null;
        try
        {
            connection = From(ssl);
            if (connection?._select is null)
            {
                *alert = AlertInternalError;
                return LibSsl.ClientHelloError;
            }

            return connection.SelectServer(ssl, alert);
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: the handshake fails with internal_error instead.
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (connection is not null)
            {
                connection._callbackFailure = e;
            }

            *alert = AlertInternalError;
            return LibSsl.ClientHelloError;
        }
    }

    /// <summary>Notes the fatal alerts we send and a renegotiation attempt; called by OpenSSL at each step of a handshake.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    internal static void OnInfo(IntPtr ssl, int where, int value)
    {
        try
        {
            if ((where & (LibSsl.CallbackWriteAlert | LibSsl.CallbackHandshakeStart)) == 0 || From(ssl) is not { } connection)
            {
                return;
            }

            if ((where & LibSsl.CallbackWriteAlert) == LibSsl.CallbackWriteAlert && value >> 8 == 2)
            {
                connection.AlertSent = value & 0xFF;
            }
            else if ((where & LibSsl.CallbackHandshakeStart) != 0 && connection._established)
            {
                connection.RenegotiationAttempted = true;
            }
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL; a note lost here costs only a message.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>The servername callback: the choice was made in <see cref="OnClientHello"/>; this acknowledges the name.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    internal static int OnServerName(IntPtr ssl, int* alert, IntPtr arg) => LibSsl.TlsextErrOk;

    private int SelectServer(IntPtr ssl, int* alert)
    {
        ServerName = LibSsl.SSL_client_hello_get0_ext(ssl, LibSsl.ExtensionServerName, out byte* data, out nuint length) == 1
            ? HostNameOf(new ReadOnlySpan<byte>(data, checked((int)length)))
            : null;
        var chosen = _select!(ServerName);
        if (chosen is null)
        {
            ServerNameRejected = true;
            *alert = AlertUnrecognizedName;
            return LibSsl.ClientHelloError;
        }

        var start = Context!;
        bool switched = LibSsl.SSL_set_SSL_CTX(ssl, chosen.Handle) != IntPtr.Zero && chosen.ApplyTo(ssl, start);
        chosen.KeepAlive();
        if (!switched)
        {
            _callbackFailure = new OpenSslException("switching to the ssl-server's context failed: " + OpenSslErrors.Drain());
            *alert = AlertInternalError;
            return LibSsl.ClientHelloError;
        }

        SelectedContext = chosen;
        if (!start.HasSuitesOf(chosen))
        {
            _front!.PreferSuitesOf(chosen);
        }

        return LibSsl.ClientHelloSuccess;
    }

    /// <summary>
    /// The host name of a server_name extension (RFC 6066 3): a list of (type, name) of which the host_name entry
    /// counts; lower case, no trailing dot. Null when absent, empty or malformed (OpenSSL refuses a malformed one
    /// itself right after this callback).
    /// </summary>
    internal static string? HostNameOf(ReadOnlySpan<byte> extension)
    {
        if (extension.Length < 2 || (extension[0] << 8 | extension[1]) != extension.Length - 2)
        {
            return null;
        }

        var list = extension[2..];
        while (list.Length >= 3)
        {
            int type = list[0];
            int length = list[1] << 8 | list[2];
            if (list.Length < 3 + length)
            {
                return null;
            }

            if (type == LibSsl.TlsextNameTypeHostName)
            {
                var name = list.Slice(3, length);
                while (name.Length > 0 && name[^1] == (byte)'.')
                {
                    name = name[..^1];
                }

                if (name.Length == 0 || name.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) >= 0)
                {
                    return null;
                }

                return System.Text.Encoding.ASCII.GetString(name).ToLowerInvariant();
            }

            list = list[(3 + length)..];
        }

        return null;
    }

    internal static SslConnection? From(IntPtr ssl)
    {
        var data = LibSsl.SSL_get_ex_data(ssl, OpenSslLibrary.SslIndex);
        return data == IntPtr.Zero ? null : GCHandle.FromIntPtr(data).Target as SslConnection;
    }
}
