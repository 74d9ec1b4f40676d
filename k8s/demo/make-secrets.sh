#!/usr/bin/env bash
# Makes the files of the demo's Secrets in k8s/demo/secrets/ (kept out of git): the cluster's master key, the
# PostgreSQL password and the journal's connection string, the admin token, and mutual TLS between the nodes (a
# cluster CA made here and one node certificate in a PKCS#12 with its password). Files that exist are kept, so a
# second run changes nothing; delete the folder to start over. Needs openssl.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
umask 077
cd "$dir"
[ -f master-key ] || head -c 32 /dev/urandom | base64 | tr -d '\n' > master-key
[ -f postgres-password ] || openssl rand -hex 24 | tr -d '\n' > postgres-password
[ -f journal ] || printf 'Host=sslcluster-postgres;Port=5432;Username=sslcluster;Password=%s;Database=sslcluster' "$(cat postgres-password)" > journal
[ -f admin-token ] || openssl rand -hex 24 | tr -d '\n' > admin-token
if [ ! -f node.p12 ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 825 -subj "/CN=sslcluster demo cluster CA" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' > node.ext
  openssl req -newkey rsa:2048 -nodes -keyout node.key -out node.csr -subj "/CN=sslcluster demo node" 2>/dev/null
  openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out node.pem -days 825 -extfile node.ext 2>/dev/null
  openssl rand -hex 18 | tr -d '\n' > remoting-password
  openssl pkcs12 -export -in node.pem -inkey node.key -out node.p12 -passout "file:remoting-password"
  rm -f node.csr node.key node.ext ca.srl
fi
echo "k8s/demo/secrets: master-key, journal, postgres-password, admin-token, node.p12, ca.pem, remoting-password (ca.key stays here: it signs more node certificates)"
