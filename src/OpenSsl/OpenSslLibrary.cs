using System.Runtime.InteropServices;
using System.Text;

namespace SslCluster.OpenSsl;

/// <summary>
/// The loaded OpenSSL: its version, checked once (3.0 or newer, with a clear error otherwise), and the ex-data index
/// our SSL objects use to find their managed connection in a callback.
/// </summary>
public static class OpenSslLibrary
{
    private static readonly Lazy<(string Version, int SslIndex)> State = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>OpenSSL's version text (for example "OpenSSL 3.0.22 25 Aug 2026").</summary>
    public static string Version => State.Value.Version;

    internal static int SslIndex => State.Value.SslIndex;

    /// <summary>
    /// Loads libssl and libcrypto and checks the version. Throws <see cref="OpenSslUnavailableException"/> with what is
    /// missing and what to do; call it at start so that a node never fails on its first connection instead.
    /// </summary>
    public static void EnsureAvailable() => _ = State.Value;

    private static (string, int) Load()
    {
        nuint number;
        string text;
        try
        {
            number = LibCrypto.OpenSSL_version_num();
            text = Marshal.PtrToStringUTF8(LibCrypto.OpenSSL_version(0)) ?? "OpenSSL (version unknown)";
            _ = LibSsl.TLS_server_method();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new OpenSslUnavailableException(
                "OpenSSL 3 (libssl.so.3 and libcrypto.so.3) could not be loaded: " + e.Message +
                ". Install Debian's libssl3 package (the .NET runtime needs it too).", e);
        }

        // 0xMNN00PP0L: major in the top nibble.
        if ((ulong)number >> 28 < 3)
        {
            throw new OpenSslUnavailableException($"{text} is too old: OpenSSL 3.0 or newer is needed (libssl.so.3).");
        }

        int index = LibCrypto.CRYPTO_get_ex_new_index(LibCrypto.ExIndexSsl, 0, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero);
        if (index < 0)
        {
            throw new OpenSslUnavailableException("OpenSSL refused an ex-data index for SSL objects: " + OpenSslErrors.Drain());
        }

        return (text, index);
    }
}

/// <summary>OpenSSL is missing or too old.</summary>
public sealed class OpenSslUnavailableException : Exception
{
    public OpenSslUnavailableException(string message)
        : base(message)
    {
    }

    public OpenSslUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public OpenSslUnavailableException()
    {
    }
}

/// <summary>A failed OpenSSL call while building a context; the message holds OpenSSL's error queue.</summary>
public sealed class OpenSslException : Exception
{
    public OpenSslException(string message)
        : base(message)
    {
    }

    public OpenSslException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public OpenSslException()
    {
    }
}

/// <summary>
/// OpenSSL's per-thread error queue. It must be empty before a call whose result is read with SSL_get_error and read
/// right after it, before any await moves the task to another thread: a stale entry makes the next connection on the
/// thread fail.
/// </summary>
internal static unsafe class OpenSslErrors
{
    /// <summary>The reason of an error that reports an alert received from the peer (SSL_AD_REASON_OFFSET).</summary>
    private const int AlertReasonOffset = 1000;

    /// <summary>What <see cref="Drain()"/> says when the queue was empty.</summary>
    public const string Empty = "no OpenSSL error";

    /// <summary>
    /// Empties this thread's queue before a call whose outcome SSL_get_error reads from it. A peek first: the queue is
    /// almost always empty, and ERR_clear_error wipes all of its slots every time (a measurable share of a keep-alive
    /// request).
    /// </summary>
    public static void Clear()
    {
        if (LibCrypto.ERR_peek_error() != 0) LibCrypto.ERR_clear_error();
    }

    /// <summary>Reads and empties the queue: the texts joined, or "no OpenSSL error" when it was empty.</summary>
    public static string Drain() => Drain(out _);

    /// <summary>Like <see cref="Drain()"/>; <paramref name="alertReceived"/> is the peer's alert when one of the errors reports it, else -1.</summary>
    public static string Drain(out int alertReceived)
    {
        alertReceived = -1;
        StringBuilder? text = null;
        byte* buffer = stackalloc byte[256];
        nuint error;
        while ((error = LibCrypto.ERR_get_error()) != 0)
        {
            // ERR_GET_REASON: system errors have bit 31 set and carry errno instead.
            bool system = ((ulong)error & 0x80000000UL) != 0;
            int reason = (int)((ulong)error & 0x7FFFFF);
            if (!system && reason >= AlertReasonOffset && reason < AlertReasonOffset + 256)
            {
                alertReceived = reason - AlertReasonOffset;
            }

            LibCrypto.ERR_error_string_n(error, buffer, 256);
            text ??= new StringBuilder();
            if (text.Length > 0)
            {
                text.Append("; ");
            }

            text.Append(Marshal.PtrToStringUTF8((IntPtr)buffer));
        }

        return text?.ToString() ?? Empty;
    }
}
