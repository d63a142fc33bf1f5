---@meta dns
-- LuaCATS definitions for luster's `dns`: getaddrinfo on libuv's
-- threadpool, in Node's callback form and as `dns.promises.lookup`.

---@class dns.LookupAddress
---@field address string
---@field family 4|6

---@class dns.LookupOptions
---@field family? 0|4|6|'IPv4'|'IPv6' 0 (the default): either
---@field all? boolean every address, as a list of dns.LookupAddress

---@class dns.promises
local promises = {}
---A promise of `{address=, family=}` (a list of them with `all`); rejects
---with ENOTFOUND and the resolver's other codes.
---@param host string
---@param opts? 0|4|6|'IPv4'|'IPv6'|dns.LookupOptions
---@return Promise
function promises.lookup(host, opts) end

---@class dns
local dns = {}

---Hint flags Node exports (accepted, not needed: the resolver's defaults apply).
---@type integer
dns.ADDRCONFIG = 1024
---@type integer
dns.V4MAPPED = 2048
---@type integer
dns.ALL = 256
---The code of a name that does not resolve.
---@type string
dns.NOTFOUND = 'ENOTFOUND'
---@type dns.promises
dns.promises = promises

---Resolve `host`: `cb(err, address, family)`, or `cb(err, list)` with
---`all = true`.  Addresses come in the resolver's order; a literal
---address is answered without the resolver, on the next tick.
---@param host string
---@param opts 0|4|6|'IPv4'|'IPv6'|dns.LookupOptions|fun(err: table|nil, address?: string|dns.LookupAddress[], family?: integer)
---@param cb? fun(err: table|nil, address?: string|dns.LookupAddress[], family?: integer)
function dns.lookup(host, opts, cb) end

---4 or 6 for an IP address literal, else 0.
---@param s string
---@return 0|4|6
function dns.isIP(s) end

return dns
