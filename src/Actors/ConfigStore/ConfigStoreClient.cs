using Akka.Actor;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.ConfigStore;

/// <summary>How a node hands configuration text of any length to the store: in acknowledged parts, each far below the frame.</summary>
public static class ConfigStoreClient
{
    /// <summary>
    /// Applies <paramref name="text"/>; answers <see cref="ConfigApplied"/> or <see cref="ConfigRejected"/>. Text longer
    /// than one message goes first as parts, each acknowledged before the next (so they arrive in order), then the
    /// last part with the command.
    /// </summary>
    public static async Task<object> ApplyAsync(IActorRef store, string text, string source, bool strictCiphers, TimeSpan timeout, string? context = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= MaxTextPerMessage)
            return await store.Ask<object>(new ApplyConfig(text, source, strictCiphers, Context: context), timeout);
        var id = Guid.NewGuid();
        var index = 0;
        var at = 0;
        while (text.Length - at > MaxTextPerMessage)
        {
            // Never between the two halves of a surrogate pair (a character outside the BMP): each part must be valid text.
            var length = char.IsHighSurrogate(text[at + MaxTextPerMessage - 1]) ? MaxTextPerMessage - 1 : MaxTextPerMessage;
            var reply = await store.Ask<object>(new ConfigTextPart(id, index, text.Substring(at, length)), timeout);
            if (reply is not ConfigTextPartReceived) return reply;
            at += length;
            index++;
        }
        return await store.Ask<object>(new ApplyConfig(text[at..], source, strictCiphers, id, context), timeout);
    }
}
