namespace SslCluster.Protocol.Config;

public static partial class ConfigValidator
{
    /// <summary>Why a name cannot be a store file's (the store's naming rules), or null.</summary>
    private static string? StoreNameProblem(string name)
    {
        try
        {
            Pki.CertStoreFile.ValidateName(name);
            return null;
        }
        catch (Pki.PkiException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// The <c>min-chain-length</c> check (release notes 3.1(3)) of every in-service server proxy service, by
    /// <c>CONTEXT/SERVICE</c>: its trustpoint's certificate must chain, through the certificate store, to a self-signed
    /// root, or be at least min-chain-length certificates long. The configuration store applies it to what a change
    /// newly breaks (a new or changed service, a certificate taken out of the store), so a chain broken before never
    /// blocks an unrelated change.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ChainProblems(RunningConfig config, ICertStoreView store)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(store);
        var problems = new Dictionary<string, string>(StringComparer.Ordinal);
        var chains = new Dictionary<string, (int Certificates, bool ReachesRoot)?>(StringComparer.Ordinal);
        foreach (var context in config.Contexts.Values)
        {
            foreach (var s in context.Services.Values)
            {
                if (!s.InService || s.Client || s.CertificateTrustpoint is not { } name || !config.Trustpoints.TryGetValue(name, out var tp) ||
                    tp.Chain.FirstOrDefault(c => !c.Ca) is not { } leaf) continue;
                var file = SslmLowering.StoreFile(leaf.File);
                if (!chains.TryGetValue(file, out var chain)) chains[file] = chain = store.ChainOf(file);
                if (chain is not { } c || c.ReachesRoot || (tp.MinChainLength > 0 && c.Certificates >= tp.MinChainLength)) continue;
                problems[$"{context.Name}/{s.Name}"] =
                    $"ssl-proxy context {context.Name}, service {s.Name}: the chain of trustpoint {name}'s certificate is {c.Certificates} certificate(s) in the store and does not reach a self-signed root CA" +
                    (tp.MinChainLength == 0
                        ? $"; import the CA certificates that issued it, or accept a partial chain with 'min-chain-length {c.Certificates}' under 'crypto pki trustpoint {name}' (release notes 3.1(3))"
                        : $", shorter than its min-chain-length {tp.MinChainLength}; import the CA certificates that issued it or lower min-chain-length");
            }
        }

        return problems;
    }

    /// <summary>
    /// The SSLM face: every name a context object uses resolves (in its own context, or among the trustpoints and
    /// certificate maps), an in-service proxy service has what it needs to carry traffic, and no two listeners (proxy
    /// services or CSS content rules) claim one address and port.
    /// </summary>
    private static void ValidateSslm(RunningConfig config, ICertStoreView? store, Action<string> error, Action<string> warn)
    {
        var claimed = new Dictionary<(string Address, int Port), string>();
        foreach (var (owner, rule) in config.ContentRules)
        {
            if (rule.VipAddress is { } vip && rule.Port is { } port) claimed.TryAdd((vip, port), $"content {rule.Name} of owner {owner.Name}");
        }

        foreach (var t in config.Trustpoints.Values)
        {
            if (store is not null && t.RsaKeyPair is { } key && store.KindOf(key) is var keyKind && keyKind != StoredFileKind.RsaKey)
                error($"crypto pki trustpoint {t.Name}: rsakeypair '{key}' is {(keyKind is null ? "not in the certificate store" : Describe(keyKind.Value))}; import the key with 'copy ssl file:PATH import NAME pem \"password\"' and name its key file");
            foreach (var c in t.Chain)
            {
                var file = SslmLowering.StoreFile(c.File);
                if (store is null || store.KindOf(file) == StoredFileKind.Certificate) continue;
                if (StoreNameProblem(file) is { } why)
                    error($"crypto pki certificate chain {t.Name}: certificate {c.Serial} names '{file}', which no store file can be called ({why}); import the certificate with 'copy ssl file:PATH import NAME pem \"password\"' and name that file here");
                else
                    error($"crypto pki certificate chain {t.Name}: certificate {c.Serial} names '{file}', which is {(store.KindOf(file) is { } kind ? Describe(kind) : "not in the certificate store")}; import it with 'copy ssl file:PATH import {file} pem \"password\"'");
            }

            if (store is not null && t.RsaKeyPair is { } pairKey && t.Chain.FirstOrDefault(c => !c.Ca) is { } own &&
                store.KindOf(pairKey) is not null && store.KindOf(SslmLowering.StoreFile(own.File)) is not null &&
                store.MismatchReason(pairKey, SslmLowering.StoreFile(own.File)) is { } mismatch)
                error($"crypto pki trustpoint {t.Name}: rsakeypair '{pairKey}' does not belong to certificate {own.Serial} ({mismatch}); name the certificate issued for this key");

        }

        foreach (var context in config.Contexts.Values)
        {
            var where = $"ssl-proxy context {context.Name}";
            foreach (var pool in context.Pools.Values)
            {
                var orders = pool.Entries.Select(e => config.Trustpoints.GetValueOrDefault(e.Trustpoint)).OfType<PkiTrustpoint>()
                    .Select(t => $"{string.Join(' ', t.Revocation)}|{t.OcspUrl}").Distinct().Count();
                if (orders > 1)
                    error($"{where}, pool ca {pool.Name}: its trustpoints check revocation differently, and a service applies one revocation order to all its clients in this release; give them the same 'revocation-check' and 'ocsp url'");
                foreach (var t in pool.Entries.Select(e => config.Trustpoints.GetValueOrDefault(e.Trustpoint)).OfType<PkiTrustpoint>().Where(t => t.Revocation.Count == 0))
                    warn($"{where}, pool ca {pool.Name}: trustpoint {t.Name} has no 'revocation-check', so certificates it issued are not checked for revocation; write 'revocation-check ocsp' (or 'none' to say so)");
                // A CA certificate under an entry with a map and under one without (or another map) would be authorized
                // two ways; the runtime would apply the map to both, so the operator is told now.
                var mapsByCa = pool.Entries
                    .SelectMany(e => (config.Trustpoints.GetValueOrDefault(e.Trustpoint)?.Chain ?? ValueList<PkiChainCertificate>.Empty)
                        .Where(c => c.Ca).Select(c => (File: SslmLowering.StoreFile(c.File), Map: e.MatchMap ?? "")))
                    .GroupBy(x => x.File, StringComparer.Ordinal)
                    .Where(g => g.Select(x => x.Map).Distinct().Count() > 1);
                foreach (var g in mapsByCa)
                    error($"{where}, pool ca {pool.Name}: CA certificate '{g.Key}' is in trustpoints with different 'match map' settings ({string.Join(", ", g.Select(x => x.Map.Length == 0 ? "no map" : "map " + x.Map).Distinct())}); give each CA certificate one setting");
                foreach (var entry in pool.Entries)
                {
                    if (!config.Trustpoints.ContainsKey(entry.Trustpoint))
                        error($"{where}, pool ca {pool.Name}: trustpoint '{entry.Trustpoint}' does not exist{Suggest.DidYouMean(entry.Trustpoint, config.Trustpoints.Keys)}; add 'crypto pki trustpoint {entry.Trustpoint}' or remove the line");
                    if (entry.MatchMap is { } map && !config.CertificateMaps.ContainsKey(map))
                        error($"{where}, pool ca {pool.Name}: certificate map '{map}' does not exist{Suggest.DidYouMean(map, config.CertificateMaps.Keys)}; add 'crypto pki certificate map {map} 10' with its rules");
                }
            }

            foreach (var policy in context.HeaderPolicies.Values)
            {
                if (policy.SubjectName && policy.ClientCert == ClientCertFields.None)
                    error($"{where}, policy http-header {policy.Name}: 'subject-name' needs a client-cert option on the policy (release notes 3.1(4)); add 'client-cert' or remove 'subject-name'");
                if (policy.Prefix is not null && policy.ClientCert == ClientCertFields.None && !policy.Session && !policy.ClientIpPort)
                    warn($"{where}, policy http-header {policy.Name}: 'prefix' applies to the inserted fields, and the policy inserts none");
            }

            foreach (var s in context.Services.Values)
            {
                var who = $"{where}, service {s.Name}";
                if (s.CertificateTrustpoint is { } tp && !config.Trustpoints.ContainsKey(tp))
                    error($"{who}: trustpoint '{tp}' does not exist{Suggest.DidYouMean(tp, config.Trustpoints.Keys)}; add 'crypto pki trustpoint {tp}'");
                if (s.TrustedCa is { } ca && !context.Pools.ContainsKey(ca))
                    error($"{who}: CA pool '{ca}' does not exist in context {context.Name}{Suggest.DidYouMean(ca, context.Pools.Keys)}; add 'pool ca {ca}'");
                else if (s.TrustedCa is { } named && s.InService &&
                    !context.Pools[named].Entries.Any(e => config.Trustpoints.TryGetValue(e.Trustpoint, out var t) && t.Chain.Any(c => c.Ca)))
                    error($"{who}: CA pool '{named}' holds no CA certificate, so no {(s.Client ? "server" : "client")} could pass; add 'certificate ca SERIAL FILE' to the chain of one of its trustpoints");
                // A warning, not an error: the release notes' own upgrade sample names a pool it does not show, and a node's
                // connections to servers come from its own address whatever the pool.
                if (s.NatClient is { } nat && !context.NatPools.ContainsKey(nat))
                    warn($"{who}: NAT pool '{nat}' does not exist in context {context.Name}{Suggest.DidYouMean(nat, context.NatPools.Keys)}; connections to the server come from the node's own address");
                SslmHeaderPolicy? policy = null;
                if (s.HeaderPolicy is { } name && !context.HeaderPolicies.TryGetValue(name, out policy))
                    error($"{who}: http-header policy '{name}' does not exist in context {context.Name}{Suggest.DidYouMean(name, context.HeaderPolicies.Keys)}; add 'policy http-header {name}'");
                if (s.Client && policy is { ClientCert: not ClientCertFields.None })
                    error($"{who}: a client proxy service has no client certificate to insert (CSCin67360); remove client-cert from policy {policy.Name} or attach another policy");
                else if (s.Client && policy is { SendProxyV2: true })
                    error($"{who}: send-proxy-v2 tells a server about a TLS client, and a client proxy service's clients speak clear text; remove 'send-proxy-v2' from policy {policy.Name} or attach another policy");
                else if (s.Client && policy is { Session: true })
                    error($"{who}: a client proxy service's clients have no SSL session to insert (the TLS session is the service's own, with its server); remove 'session' from policy {policy.Name} or attach another policy");
                if (s.Client && s.TrustedCa is null && s.Verify is not null)
                    warn($"{who}: 'authenticate verify' checks the server against 'trusted-ca', and the service names none");
                if (s.TrustedCa is { } pool && context.Pools.TryGetValue(pool, out var caPool) && caPool.Entries.Any(e => e.MatchMap is not null))
                {
                    if (!s.CertTrim)
                        error($"{who}: pool {pool} matches certificate maps, which needs 'cert-trim' on the service (release notes 3.1(3)); add 'cert-trim'");
                    if (s.Client)
                        error($"{who}: pool {pool} matches certificate maps, which authorize client certificates; a client service checks its server, so give it a pool without 'match map'");
                }
                if (!s.Client && s.TrustedCa is null && policy is { ClientCert: not ClientCertFields.None })
                    warn($"{who}: policy {policy.Name} inserts client certificate fields but the service names no 'trusted-ca', so no certificate is asked for");
                if (!s.InService) continue;
                if (s.Virtual is null)
                    error($"{who}: an in-service proxy service needs 'virtual ipaddr IP protocol tcp port N'; add it or write 'no inservice'");
                if (s.Server is null)
                    error($"{who}: an in-service proxy service needs 'server ipaddr IP protocol tcp port N'; add it or write 'no inservice'");
                if (!s.Client && s.CertificateTrustpoint is null)
                    error($"{who}: an in-service server proxy service needs its certificate: add 'certificate rsa general-purpose trustpoint NAME' or write 'no inservice'");
                if (s.CertificateTrustpoint is { } own && config.Trustpoints.TryGetValue(own, out var ownTp) && (ownTp.RsaKeyPair is null || !ownTp.Chain.Any(c => !c.Ca)))
                    error($"{who}: trustpoint {own} needs 'rsakeypair FILE' and a 'certificate SERIAL FILE' line in its chain before the service can be in service{(s.Client ? " (a client service presents it to its server)" : "")}");
                if (s.Virtual is { } v && !claimed.TryAdd((v.Address, v.Port), who))
                    error($"{who}: virtual {v.Address} port {v.Port} is already served by {claimed[(v.Address, v.Port)]}; give one of them another address or port");
            }
        }
    }
}
