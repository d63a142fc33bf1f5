--- `dns` — name lookups (API.md "dns"): getaddrinfo on libuv's threadpool
--- (runtime/dns.c), in Node's callback form and as `dns.promises.lookup`.
--- Addresses come in the resolver's order (Node's default `verbatim`).
local native = require('native.dns')
local errors = require('luster.errors')
local Promise = require('luster.promise')

local type = type

local M = { promises = {} }

M.ADDRCONFIG, M.V4MAPPED, M.ALL = 1024, 2048, 256  -- accepted in hints, as Node exports them
M.NOTFOUND = 'ENOTFOUND'

local FAMILIES = { [0] = 0, [4] = 4, [6] = 6, IPv4 = 4, IPv6 = 6 }

local function throw(code, msg) error(errors.new(code, msg), 3) end

-- (host, opts) -> host, family, all
local function arguments(host, opts)
  if type(host) ~= 'string' then
    throw('ERR_INVALID_ARG_TYPE', 'The "hostname" argument must be of type string. Received ' .. type(host))
  end
  local family, all = 0, false
  if type(opts) == 'number' or type(opts) == 'string' then
    family = FAMILIES[opts]
  elseif type(opts) == 'table' then
    family = FAMILIES[opts.family == nil and 0 or opts.family]
    all = opts.all == true
  elseif opts ~= nil then
    throw('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object. Received ' .. type(opts))
  end
  if family == nil then
    throw('ERR_INVALID_ARG_VALUE', "The argument 'family' must be one of: 0, 4, 6")
  end
  return host, family, all
end

-- Resolve, calling done(err, list).  Literal addresses (and '') need no
-- resolver; they are answered on the next turn as Node does.
local function resolve(host, family, done)
  local literal = native.is_ip(host)
  if literal ~= 0 and (family == 0 or family == literal) then
    return process.nextTick(done, nil, { { address = host, family = literal } })
  end
  if host == '' then host = 'localhost' end
  native.lookup(host, family, done)
end

--- dns.lookup(host[, family | {family=, all=}], cb): cb(err, address, family),
--- or cb(err, {{address=, family=}, ...}) with all = true.
function M.lookup(host, opts, cb)
  if type(opts) == 'function' then opts, cb = nil, opts end
  if type(cb) ~= 'function' then
    throw('ERR_INVALID_ARG_TYPE', 'The "callback" argument must be of type function. Received ' .. type(cb))
  end
  local h, family, all = arguments(host, opts)
  resolve(h, family, function(err, list)
    if err then return cb(err) end
    if all then return cb(nil, list) end
    local first = list[1]
    if not first then
      local e = errors.new('ENOTFOUND', 'getaddrinfo ENOTFOUND ' .. h)
      e.syscall, e.hostname = 'getaddrinfo', h
      return cb(e)
    end
    return cb(nil, first.address, first.family)
  end)
end

--- dns.promises.lookup(host[, opts]) -> {address=, family=} (or a list with all).
function M.promises.lookup(host, opts)
  local h, family, all = arguments(host, opts)
  return Promise.new(function(ok, fail)
    resolve(h, family, function(err, list)
      if err then return fail(err) end
      if all then return ok(list) end
      if not list[1] then
        local e = errors.new('ENOTFOUND', 'getaddrinfo ENOTFOUND ' .. h)
        e.syscall, e.hostname = 'getaddrinfo', h
        return fail(e)
      end
      ok(list[1])
    end)
  end)
end

--- 0, 4 or 6: whether `s` is an IP address literal (net.isIP).
M.isIP = native.is_ip

return M
