namespace SslCluster.Protocol.Net;

/// <summary>
/// Why a proxied connection ended, named by side and phase (YARP's ForwarderError is the model). Only the
/// <c>Backend*</c> values say something about a backend server's health; client-side values are routine.
/// </summary>
public enum ProxyError
{
    /// <summary>Normal end: both sides closed (close_notify, FIN, or the close linger after one side closed).</summary>
    None,

    /// <summary>The client did not finish the TLS handshake within the handshake timeout.</summary>
    ClientHandshakeTimeout,

    /// <summary>The handshake failed on our side: we sent a fatal alert, or the client closed mid-handshake.</summary>
    ClientHandshakeFailed,

    /// <summary>The client's SNI names no ssl-server of this listener (we sent unrecognized_name).</summary>
    ClientServerNameRejected,

    /// <summary>
    /// Client authentication refused the client's certificate (missing, untrusted, expired, revoked, or no CRL to
    /// check it against) under the reject failure action; the message names the reason and the certificate.
    /// </summary>
    ClientCertificateRejected,

    /// <summary>The client sent a fatal alert (during the handshake or later).</summary>
    ClientAlertReceived,

    /// <summary>After the handshake, the client sent records we could not accept (bad MAC, bad record, ...).</summary>
    ClientProtocolError,

    /// <summary>The client's TCP connection failed (reset, unreachable) before it closed properly.</summary>
    ClientReset,

    /// <summary>The client closed TCP without close_notify while the options require one.</summary>
    ClientTruncated,

    /// <summary>The destination refused or could not be reached.</summary>
    BackendConnectFailed,

    /// <summary>The destination did not accept within the backend connect timeout.</summary>
    BackendConnectTimeout,

    /// <summary>The destination's TCP connection failed while relaying.</summary>
    BackendReset,

    /// <summary>The TLS handshake with a real server (re-encryption, SSL initiation) failed.</summary>
    BackendHandshakeFailed,

    /// <summary>The real server did not complete the TLS handshake within the handshake timeout.</summary>
    BackendHandshakeTimeout,

    /// <summary>The real server's certificate does not chain to the backend-server's cacert (or is out of date).</summary>
    BackendCertificateRejected,

    /// <summary>The real server sent a fatal TLS alert after the handshake.</summary>
    BackendAlertReceived,

    /// <summary>The real server sent TLS records we could not accept.</summary>
    BackendProtocolError,

    /// <summary>The connection was aborted from outside (drain deadline, kill, listener stop).</summary>
    Aborted,

    /// <summary>A defect in the proxy itself; the message carries the exception.</summary>
    InternalError,

    /// <summary>No byte moved in either direction for the ssl-server's idle timeout: closed by policy.</summary>
    IdleTimeout,

    /// <summary>
    /// The real server of a TLS leg closed TCP without close_notify: what it sent may be cut short, so the client's
    /// connection is reset, never ended cleanly.
    /// </summary>
    BackendTruncated,

    /// <summary>
    /// The client closed its connection (FIN or reset) before sending a single byte: a port check of a load balancer
    /// or monitor in front. Not a failure (HAProxy's "null connection"): neither
    /// logged nor counted as a failed handshake; counted as "conns closed empty".
    /// </summary>
    ClientClosedEmpty,
}

/// <summary>Helpers for <see cref="ProxyError"/>.</summary>
public static class ProxyErrorExtensions
{
    /// <summary>True for the values that should count against a backend server's health.</summary>
    public static bool IsBackendSide(this ProxyError error) =>
        error is ProxyError.BackendConnectFailed or ProxyError.BackendConnectTimeout or ProxyError.BackendReset
            or ProxyError.BackendHandshakeFailed or ProxyError.BackendHandshakeTimeout or ProxyError.BackendCertificateRejected
            or ProxyError.BackendAlertReceived or ProxyError.BackendProtocolError or ProxyError.BackendTruncated;

    /// <summary>True for the values caused by the client (routine: log them at Debug).</summary>
    public static bool IsClientSide(this ProxyError error) =>
        error is ProxyError.ClientHandshakeTimeout or ProxyError.ClientHandshakeFailed
            or ProxyError.ClientServerNameRejected or ProxyError.ClientCertificateRejected or ProxyError.ClientAlertReceived
            or ProxyError.ClientProtocolError or ProxyError.ClientReset or ProxyError.ClientTruncated;

    /// <summary>The side an outcome blames, as metrics and logs name it: "client", "backend", or "none".</summary>
    public static string Side(this ProxyError error) => error.IsClientSide() ? "client" : error.IsBackendSide() ? "backend" : "none";

    /// <summary>
    /// The back end's TLS stream failed while we read it (truncated, a fatal alert, a bad record): what reached the
    /// client may be cut short, so its connection is reset rather than closed.
    /// </summary>
    public static bool CutsTheAnswer(this ProxyError error) =>
        error is ProxyError.BackendTruncated or ProxyError.BackendAlertReceived or ProxyError.BackendProtocolError;

    /// <summary>A short sentence describing the value, for people.</summary>
    public static string Describe(this ProxyError error) => error switch
    {
        ProxyError.None => "closed normally",
        ProxyError.ClientHandshakeTimeout => "client did not complete the TLS handshake in time",
        ProxyError.ClientHandshakeFailed => "client TLS handshake failed",
        ProxyError.ClientServerNameRejected => "client asked for a server name no ssl-server answers to",
        ProxyError.ClientCertificateRejected => "client certificate refused by client authentication",
        ProxyError.ClientAlertReceived => "client sent a fatal TLS alert",
        ProxyError.ClientProtocolError => "client sent invalid TLS records",
        ProxyError.ClientReset => "client connection was reset",
        ProxyError.ClientTruncated => "client closed without TLS close_notify",
        ProxyError.BackendConnectFailed => "could not connect to the backend",
        ProxyError.BackendConnectTimeout => "backend connect timed out",
        ProxyError.BackendReset => "backend connection was reset",
        ProxyError.BackendHandshakeFailed => "TLS handshake with the backend failed",
        ProxyError.BackendHandshakeTimeout => "TLS handshake with the backend timed out",
        ProxyError.BackendCertificateRejected => "backend certificate refused (cacert)",
        ProxyError.BackendAlertReceived => "backend sent a fatal TLS alert",
        ProxyError.BackendProtocolError => "backend sent invalid TLS records",
        ProxyError.BackendTruncated => "backend closed without TLS close_notify",
        ProxyError.Aborted => "connection aborted by the proxy",
        ProxyError.InternalError => "internal error in the proxy",
        ProxyError.IdleTimeout => "closed after the idle timeout",
        ProxyError.ClientClosedEmpty => "client closed before sending anything (a port check)",
        _ => error.ToString(),
    };
}
