using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SslCluster.OpenSsl;

/// <summary>
/// The write BIO of every <see cref="SslConnection"/>: a BIO method of our own whose write appends the records OpenSSL
/// seals straight into the connection's pooled output buffer, which the caller then sends as it is. A memory BIO would
/// copy each record into its own growing buffer first, to be copied out again into the caller's (two copies of every
/// byte sent, and a buffer that keeps its largest size); this one copies once and holds nothing once its output is
/// taken. It never refuses a write (the buffer grows), as a memory BIO never does. The BIO's data is the connection's
/// weak GC handle (the one its SSL's ex-data holds): the SSL frees the BIO before the handle is freed.
/// </summary>
internal static unsafe class OutputBio
{
    private static readonly Lock MethodGate = new();
    private static IntPtr _method;

    /// <summary>Made once (a failure is not kept: the next connection tries again), and never freed.</summary>
    private static IntPtr Method
    {
        get
        {
            var method = Volatile.Read(ref _method);
            if (method != IntPtr.Zero) return method;
            lock (MethodGate)
            {
                if (_method == IntPtr.Zero) Volatile.Write(ref _method, Create());
                return _method;
            }
        }
    }

    /// <summary>A new write BIO for <paramref name="owner"/> (a GC handle's IntPtr); zero when OpenSSL has no memory.</summary>
    public static IntPtr New(IntPtr owner)
    {
        var bio = LibCrypto.BIO_new(Method);
        if (bio != IntPtr.Zero)
        {
            LibCrypto.BIO_set_data(bio, owner);
            // A BIO without a create callback starts uninitialised, and OpenSSL refuses to write to it.
            LibCrypto.BIO_set_init(bio, 1);
        }

        return bio;
    }

    /// <summary>Made once per process and never freed: every connection's write BIO points at it.</summary>
    private static IntPtr Create()
    {
        int index = LibCrypto.BIO_get_new_index();
        var method = index < 0 ? IntPtr.Zero : LibCrypto.BIO_meth_new(index | LibCrypto.BioTypeSourceSink, "sslcluster output");
        if (method == IntPtr.Zero ||
            LibCrypto.BIO_meth_set_write_ex(method, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, byte*, nuint, nuint*, int>)&OnWrite) != 1 ||
            LibCrypto.BIO_meth_set_ctrl(method, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int, nint, IntPtr, nint>)&OnControl) != 1)
        {
            var error = OpenSslErrors.Drain();
            if (method != IntPtr.Zero) LibCrypto.BIO_meth_free(method);
            throw new OpenSslException("making the output BIO method failed: " + error);
        }

        return method;
    }

    private static SslConnection? Owner(IntPtr bio)
    {
        var data = LibCrypto.BIO_get_data(bio);
        return data == IntPtr.Zero ? null : GCHandle.FromIntPtr(data).Target as SslConnection;
    }

    /// <summary>A sealed record (or part of one) for the peer: appended whole, or the write fails (no retry).</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnWrite(IntPtr bio, byte* data, nuint length, nuint* written)
    {
        *written = 0;
        SslConnection? connection = null;
        try
        {
            connection = Owner(bio);
            if (connection is null)
            {
                // Collected: only SSL_free can still run on it, and it writes nothing.
                return 0;
            }

            connection.AppendOutput(new ReadOnlySpan<byte>(data, checked((int)length)));
            *written = length;
            return 1;
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: the write fails, and the connection says why.
        catch (Exception e)
#pragma warning restore CA1031
        {
            // Part of the record may have gone to the sink already: the stream cannot go on either way.
            connection?.NoteOutputFailure(e);
            return 0;
        }
    }

    /// <summary>A flush is done at once (the caller sends); the bytes waiting are the connection's output.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint OnControl(IntPtr bio, int command, nint argument, IntPtr pointer)
    {
        try
        {
            return command switch
            {
                LibCrypto.BioCtrlFlush => 1,
                LibCrypto.BioCtrlWPending => Owner(bio)?.PendingOutput ?? 0,
                _ => 0,
            };
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL; an unknown control is answered "not supported".
        catch (Exception)
#pragma warning restore CA1031
        {
            return 0;
        }
    }
}
