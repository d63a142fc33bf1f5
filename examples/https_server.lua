-- An HTTPS server: the C HTTP server of `http` with TLS under each
-- connection.  Make a self-signed certificate, then run it:
--   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
--     -keyout key.pem -out cert.pem -days 30 -subj /CN=localhost \
--     -addext subjectAltName=DNS:localhost,IP:127.0.0.1
--   CERT=cert.pem KEY=key.pem luster examples/https_server.lua
--   curl --cacert cert.pem https://localhost:8443/
-- PORT=0 picks a free port.
local https = require('https')
local fs = require('fs')

local server = https.createServer({
  cert = fs.readFileSync(process.env.CERT or 'cert.pem'),
  key = fs.readFileSync(process.env.KEY or 'key.pem'),
}, function(req, res)
  res:writeHead(200, { ['Content-Type'] = 'text/plain' })
  res:finish(('Hello over TLS, %s %s\n'):format(req.method, req.url))
end)

server:listen(tonumber(process.env.PORT) or 8443, '127.0.0.1', function()
  console.log(('Server listening on port %d'):format(server:address().port))
end)
