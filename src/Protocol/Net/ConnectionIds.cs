namespace SslCluster.Protocol.Net;

/// <summary>Process-unique connection ids and guarded observer calls.</summary>
internal static class ConnectionIds
{
    private static long _last;

    public static long Next() => Interlocked.Increment(ref _last);

    /// <summary>
    /// Calls the observer with <paramref name="state"/>; its failure must never break or leak from the data path. The call
    /// is a static lambda and its arguments come in the state: a lambda capturing a connection's locals would make the
    /// compiler keep them in a closure object for as long as the connection runs.
    /// </summary>
    public static void Notify<TState>(IConnectionObserver? observer, TState state, Action<IConnectionObserver, TState> call)
    {
        if (observer is null)
        {
            return;
        }

        try
        {
            call(observer, state);
        }
#pragma warning disable CA1031 // The observer is foreign code; the connection must survive whatever it throws.
        catch (Exception)
#pragma warning restore CA1031
        {
            // Deliberately ignored: see IConnectionObserver.
        }
    }
}
