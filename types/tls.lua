---@meta tls
-- LuaCATS definitions for luster's `tls`: TLS client and server sockets
-- over OpenSSL 3 (memory BIOs on the socket layer).

---@class tls.ConnectOptions
---@field host? string
---@field port? integer
---@field path? string a Unix socket
---@field socket? net.Socket an existing connected socket (STARTTLS)
---@field servername? string SNI and the name checked against the certificate
---@field ca? string|string[] PEM certificates trusted instead of the system store
---@field cert? string PEM certificate (chain) for mutual TLS
---@field key? string PEM private key
---@field passphrase? string
---@field rejectUnauthorized? boolean fail on a certificate that does not verify (default true)
---@field ALPNProtocols? string[]
---@field session? string a session from getSession() to resume
---@field minVersion? string 'TLSv1.2' or 'TLSv1.3'
---@field maxVersion? string
---@field ciphers? string
---@field timeout? integer
---@field handshakeTimeout? integer ms

---A TLS connection: a net.Socket whose bytes are encrypted; 'secureConnect'
---once the handshake is done.
---@class tls.TLSSocket: net.Socket
---@field authorized boolean the peer's certificate verified
---@field authorizationError? string Node's code when it did not
---@field alpnProtocol string|false
---@field encrypted boolean
local TLSSocket = {}

---The peer's certificate as Node shows it (subject, issuer, valid_from,
---valid_to, fingerprint256, subjectaltname, raw...), or {} when none.
---@param detailed? boolean
---@return table
function TLSSocket:getPeerCertificate(detailed) end

---Our own certificate, in the same shape.
---@return table
function TLSSocket:getCertificate() end

---'TLSv1.3', 'TLSv1.2'...
---@return string|nil
function TLSSocket:getProtocol() end

---{name=, standardName=, version=}
---@return table|nil
function TLSSocket:getCipher() end

---The session to pass as `session` for resumption (bytes).
---@return string|nil
function TLSSocket:getSession() end

---Whether the handshake resumed a session.
---@return boolean
function TLSSocket:isSessionReused() end

---A TLS server: 'secureConnection'(socket), 'tlsClientError'(err, socket).
---@class tls.Server: net.Server
local Server = {}

---A secure context (reusable TLS options).
---@class tls.SecureContext
local SecureContext = {}

---@class tls
---@field DEFAULT_MIN_VERSION string
---@field DEFAULT_MAX_VERSION string
---@field DEFAULT_ECDH_CURVE string
local tls = {}

tls.TLSSocket = TLSSocket
tls.Server = Server
tls.SecureContext = SecureContext

---Connect and handshake: `tls.connect{host=, port=, servername=, ...}` or
---`tls.connect(port, host[, opts][, cb])`; cb runs on 'secureConnect'.
---@param opts tls.ConnectOptions|integer
---@param ... any
---@return tls.TLSSocket
function tls.connect(opts, ...) end

---`tls.createServer{cert=, key=, ca=, requestCert=, rejectUnauthorized=,
---SNICallback=fn(servername, cb(err, ctx)), ALPNProtocols=, handshakeTimeout=}`.
---@param opts table
---@param onSecureConnection? fun(socket: tls.TLSSocket)
---@return tls.Server
function tls.createServer(opts, onSecureConnection) end

---A context for `secureContext=` (and SNICallback's answer).
---@param opts table
---@return tls.SecureContext
function tls.createSecureContext(opts) end

return tls
