--- Test certificates for the tls and https specs, made once per run with
--- the openssl command line: a CA, a server certificate it signs for
--- localhost and 127.0.0.1, one for another host (wrong.example), an
--- expired one (openssl ca with explicit past -startdate/-enddate), a
--- self-signed one, and a client certificate for mutual TLS.
---   local certs = require('helpers.tls_certs').make()
---   certs.ca, certs.server_cert, certs.server_key, certs.dir ... (PEM strings / paths)
local run = require('helpers.run')

local M = {}

local SCRIPT = [[
set -e
cd "$1"
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $EC -keyout ca.key -out ca.pem -days 30 -subj /CN=luster-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
sign() { # name cn san days
  openssl req $EC -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days "$4" -extfile "$1.ext"
}
sign server localhost DNS:localhost,IP:127.0.0.1 30
sign wrong wrong.example DNS:wrong.example 30
sign client luster-client DNS:client.example 30
openssl req -x509 $EC -keyout self.key -out self.pem -days 30 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1
# expired: openssl 3.0's x509 has no -not_after, its ca command takes dates
mkdir -p db && : > db/index.txt && echo 1000 > db/serial
cat > ca.cnf <<CNF
[ca]
default_ca = d
[d]
dir = .
database = db/index.txt
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = p
copy_extensions = copy
unique_subject = no
[p]
commonName = supplied
CNF
openssl req $EC -keyout expired.key -out expired.csr -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20200201000000Z -notext
]]

local function slurp(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('*a')
  f:close()
  return s
end

local made

function M.make()
  if made then return made end
  local dir = os.tmpname() .. '.certs'
  local script = os.tmpname() .. '.sh'
  local f = assert(io.open(script, 'w'))
  f:write(SCRIPT)
  f:close()
  local _, err, code = run.sh(('mkdir -p %s && bash %s %s'):format(run.quote(dir), run.quote(script), run.quote(dir)))
  os.remove(script)
  if code ~= 0 then error('making test certificates failed: ' .. err) end
  made = { dir = dir }
  for _, n in ipairs { 'ca', 'server', 'wrong', 'client', 'self', 'expired' } do
    local cert = n == 'ca' and 'ca.pem' or n .. '.pem'
    made[n .. '_cert'] = slurp(dir .. '/' .. cert)
    made[n .. '_key'] = slurp(dir .. '/' .. n .. '.key')
    made[n .. '_cert_path'] = dir .. '/' .. cert
    made[n .. '_key_path'] = dir .. '/' .. n .. '.key'
  end
  made.ca = made.ca_cert
  return made
end

--- Remove the files (the strings stay usable).
function M.cleanup()
  if made then os.execute('rm -rf ' .. run.quote(made.dir)); made = nil end
end

return M
