namespace SslCluster.Protocol.Net;

/// <summary>Process-unique connection ids and guarded observer calls.</summary>
internal static class ConnectionIds
{
    private static long _last;

    public static long Next() => Interlocked.Increment(ref _last);

    /// <summary>Calls the observer; its failure must never break or leak from the data path.</summary>
    public static void Notify(IConnectionObserver? observer, Action<IConnectionObserver> call)
    {
        if (observer is null)
        {
            return;
        }

        try
        {
            call(observer);
        }
#pragma warning disable CA1031 // The observer is foreign code; the connection must survive whatever it throws.
        catch (Exception)
#pragma warning restore CA1031
        {
            // Deliberately ignored: see IConnectionObserver.
        }
    }
}
