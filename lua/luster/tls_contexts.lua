--- luster.tls_contexts — secure contexts (tls.createSecureContext) and the
--- cache that lets connections with the same options share one SSL_CTX:
--- building one loads the system CA store, which costs far more than a
--- handshake, and a shared context is also what makes a client's sessions
--- resumable across connections.
local native = require('native.tls')
local errors = require('luster.errors')

local M = {}

-- the options that shape an SSL_CTX (the rest are per connection)
local KEYS = { 'cert', 'key', 'passphrase', 'ca', 'requestCert', 'rejectUnauthorized', 'ALPNProtocols',
               'minVersion', 'maxVersion', 'ciphers', 'sessionTimeout', 'sniAsync' }
local CACHE_MAX = 64

---@class tls.SecureContext
---@field context userdata the native SSL_CTX
local SecureContext = {}
SecureContext.__index = SecureContext
M.SecureContext = SecureContext

local function check(o)
  for _, k in ipairs { 'cert', 'key', 'ca' } do
    local v = o[k]
    if v ~= nil and type(v) ~= 'string' and type(v) ~= 'table' then
      errors.throw('ERR_INVALID_ARG_TYPE', 'The "options.%s" property must be of type string or an array. Received %s', k, type(v))
    end
  end
end

--- tls.createSecureContext{cert=, key=, passphrase=, ca=, ALPNProtocols=,
--- minVersion=, maxVersion=, ciphers=, sessionTimeout=} -> SecureContext
function M.createSecureContext(o)
  o = o or {}
  check(o)
  return setmetatable({ context = native.context(o) }, SecureContext)
end

local cache, order = {}, {}

local function key_of(o)
  local parts = {}
  for i, k in ipairs(KEYS) do
    local v = o[k]
    if type(v) == 'table' then v = table.concat(v, '\0') end
    parts[i] = tostring(v)
  end
  return table.concat(parts, '\1')
end

--- The native context for `o` (made once per distinct set of options).
function M.for_options(o, server)
  check(o)
  local key = (server and 's' or 'c') .. key_of(o)
  local ctx = cache[key]
  if ctx then return ctx end
  ctx = native.context(o)
  if #order >= CACHE_MAX then cache[table.remove(order, 1)] = nil end
  cache[key] = ctx
  order[#order + 1] = key
  return ctx
end

return M
