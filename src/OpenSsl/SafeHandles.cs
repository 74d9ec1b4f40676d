using System.Runtime.InteropServices;

namespace SslCluster.OpenSsl;

/// <summary>
/// An <c>SSL_CTX</c> we own one reference of. OpenSSL counts references: every SSL made from it, or switched to it
/// by SNI, holds its own, so releasing ours while connections still use the context is safe.
/// </summary>
internal sealed class SafeSslContextHandle : SafeHandle
{
    public SafeSslContextHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    private static long _live;

    /// <summary>Contexts taken and not yet released, process-wide (the tests' leak check).</summary>
    public static long Live => Interlocked.Read(ref _live);

    public static SafeSslContextHandle Take(IntPtr ctx)
    {
        var h = new SafeSslContextHandle();
        h.SetHandle(ctx);
        Interlocked.Increment(ref _live);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        LibSsl.SSL_CTX_free(handle);
        Interlocked.Decrement(ref _live);
        return true;
    }
}

/// <summary>
/// An <c>SSL</c> and, through <c>SSL_set_bio</c>, its two BIOs (SSL_free frees them), plus the GC handle its
/// ex-data holds so that callbacks find their connection. Released once, after every call on the connection ended.
/// </summary>
internal sealed class SafeSslHandle : SafeHandle
{
    private GCHandle _self;

    public SafeSslHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    private static long _live;

    /// <summary>Connections taken and not yet freed, process-wide (the tests' leak check).</summary>
    public static long Live => Interlocked.Read(ref _live);

    public static SafeSslHandle Take(IntPtr ssl)
    {
        var h = new SafeSslHandle();
        h.SetHandle(ssl);
        Interlocked.Increment(ref _live);
        return h;
    }

    /// <summary>
    /// Points the SSL's ex-data at <paramref name="owner"/> (a weak handle: the owner's own calls keep it alive) and
    /// returns the handle's IntPtr, for the callbacks of objects the SSL frees before the handle is (its write BIO).
    /// </summary>
    public IntPtr Attach(object owner)
    {
        _self = GCHandle.Alloc(owner, GCHandleType.Weak);
        var pointer = GCHandle.ToIntPtr(_self);
        if (LibSsl.SSL_set_ex_data(handle, OpenSslLibrary.SslIndex, pointer) != 1)
        {
            throw new OpenSslException("SSL_set_ex_data failed: " + OpenSslErrors.Drain());
        }

        return pointer;
    }

    protected override bool ReleaseHandle()
    {
        LibSsl.SSL_free(handle);
        Interlocked.Decrement(ref _live);
        if (_self.IsAllocated)
        {
            _self.Free();
        }

        return true;
    }
}
