--- require('url'): the WHATWG URL API (URL, URLSearchParams) and Node's
--- helpers around it (fileURLToPath, pathToFileURL, format, resolve,
--- urlToHttpOptions, domainToASCII, domainToUnicode).  Node's legacy
--- url.parse is not here: req.query and URL cover what it was used for.
---
---   local u = URL('https://user@example.com:8080/a/b?x=1#top')
---   u.pathname, u.searchParams:get('x'), tostring(u)
---
--- A URL object keeps its URL record (see luster/url_parser.lua) in `_r`;
--- every property is a getter or setter over that record, as the Standard
--- defines them.  The parser lives in luster/url_parser.lua, hosts in
--- luster/url_host.lua, URLSearchParams in luster/url_search.lua.
local parser = require('luster.url_parser')
local hostp = require('luster.url_host')
local search = require('luster.url_search')
local pct = require('luster.url_percent')
local errors = require('luster.errors')

local parse, serialize, states, SPECIAL = parser.parse, parser.serialize, parser.states, parser.SPECIAL
local type, tostring, setmetatable, getmetatable = type, tostring, setmetatable, getmetatable
local rawget, rawset = rawget, rawset
local byte, sub, find, gsub = string.byte, string.sub, string.find, string.gsub

local M = {}

---@class URL
---@field href string
---@field origin string
---@field protocol string
---@field username string
---@field password string
---@field host string
---@field hostname string
---@field port string
---@field pathname string
---@field search string
---@field hash string
---@field searchParams URLSearchParams
local methods = {}
local getters, setters = {}, {}
local URL_mt = { __name = 'URL' }

local function invalid_url(input, base, level)
  local e = errors.new('ERR_INVALID_URL', 'Invalid URL', level + 1)
  e.name = 'TypeError'
  e.input = input
  e.base = base
  error(e, level + 1)
end

local function is_url(v) return getmetatable(v) == URL_mt end
--- Whether v is a URL object (JavaScript's `v instanceof URL`; luster's own).
M.isURL = is_url

-- href: the serialization when the parser already knows it (the input)
local function wrap(record, href) return setmetatable({ _r = record, _href = href }, URL_mt) end

-- The record of input against base (strings or URLs), or nil.
local function parse_with_base(input, base)
  local base_record
  if base ~= nil then
    if is_url(base) then
      base_record = base._r
    else
      base_record = parse(tostring(base))
      if not base_record then return nil end
    end
  end
  if is_url(input) then input = input.href elseif type(input) ~= 'string' then input = tostring(input) end
  return parse(input, base_record)
end

local function new_url(input, base)
  local r, href
  if base == nil and type(input) == 'string' then
    r, href = parse(input)
  else
    if input == nil then errors.throw('ERR_MISSING_ARGS', 'The "url" argument must be specified') end
    r, href = parse_with_base(input, base)
  end
  if not r then
    if base ~= nil then base = tostring(base) end
    invalid_url(tostring(input), base, 2)
  end
  return setmetatable({ _r = r, _href = href }, URL_mt)
end

-- ---- getters ----

local function cannot_have_credentials(r)
  return r.host == nil or r.host == '' or r.scheme == 'file'
end

local function origin_of(r)
  local scheme = r.scheme
  if scheme == 'blob' then
    local inner = parse(r.path)
    if inner and (inner.scheme == 'http' or inner.scheme == 'https') then return origin_of(inner) end
    return 'null'
  end
  if SPECIAL[scheme] and scheme ~= 'file' then
    return scheme .. '://' .. r.host .. (r.port and ':' .. r.port or '')
  end
  return 'null'
end

function getters.href(u)
  local h = rawget(u, '_href')
  if not h then
    h = serialize(u._r)
    rawset(u, '_href', h)
  end
  return h
end
function getters.origin(u) return origin_of(u._r) end
function getters.protocol(u) return u._r.scheme .. ':' end
function getters.username(u) return u._r.username end
function getters.password(u) return u._r.password end
function getters.host(u)
  local r = u._r
  if not r.host then return '' end
  return r.port and r.host .. ':' .. r.port or r.host
end
function getters.hostname(u) return u._r.host or '' end
function getters.port(u) local p = u._r.port return p and tostring(p) or '' end
function getters.pathname(u) return u._r.path end
function getters.search(u)
  local q = u._r.query
  return (q and q ~= '') and '?' .. q or ''
end
function getters.hash(u)
  local f = u._r.fragment
  return (f and f ~= '') and '#' .. f or ''
end
function getters.searchParams(u)
  local sp = rawget(u, '_sp')
  if sp then return sp end
  sp = search.for_url(u)
  rawset(u, '_sp', sp)
  return sp
end

-- ---- setters ----

local function strip_opaque_spaces(r)
  if r.opaque and not r.fragment and not r.query then r.path = pct.strip_trailing_spaces(r.path) end
end

local function query_changed(u)
  local sp = rawget(u, '_sp')
  if sp then search.fill(sp, u._r.query) end
end

function setters.href(u, v)
  local r = parse(v)
  if not r then invalid_url(v, nil, 3) end
  u._r = r
  query_changed(u)
end
function setters.protocol(u, v) parse(v .. ':', nil, u._r, states.scheme_start) end
function setters.username(u, v)
  if cannot_have_credentials(u._r) then return end
  u._r.username = pct.encode(v, pct.USERINFO)
end
function setters.password(u, v)
  if cannot_have_credentials(u._r) then return end
  u._r.password = pct.encode(v, pct.USERINFO)
end
function setters.host(u, v)
  if u._r.opaque then return end
  parse(v, nil, u._r, states.host)
end
function setters.hostname(u, v)
  if u._r.opaque then return end
  parse(v, nil, u._r, states.hostname)
end
function setters.port(u, v)
  local r = u._r
  if cannot_have_credentials(r) then return end
  if v == '' then r.port = nil else parse(v, nil, r, states.port) end
end
function setters.pathname(u, v)
  local r = u._r
  if r.opaque then return end
  r.path = {}
  parse(v, nil, r, states.path_start)
end
function setters.search(u, v)
  local r = u._r
  if v == '' then
    r.query = nil
    strip_opaque_spaces(r)
  else
    if byte(v, 1) == 63 then v = sub(v, 2) end
    r.query = ''
    parse(v, nil, r, states.query)
  end
  query_changed(u)
end
function setters.hash(u, v)
  local r = u._r
  if v == '' then
    r.fragment = nil
    strip_opaque_spaces(r)
    return
  end
  if byte(v, 1) == 35 then v = sub(v, 2) end
  r.fragment = ''
  parse(v, nil, r, states.fragment)
end

URL_mt.__index = function(u, k)
  local g = getters[k]
  if g then return g(u) end
  return methods[k]
end
URL_mt.__newindex = function(u, k, v)
  local s = setters[k]
  if s then
    s(u, type(v) == 'string' and v or tostring(v))
    rawset(u, '_href', nil)
  elseif getters[k] then
    errors.throw('ERR_INVALID_ARG_VALUE', "Cannot set property %s of URL, which has only a getter", k)
  else
    rawset(u, k, v)
  end
end
URL_mt.__tostring = getters.href

function methods:toString() return getters.href(self) end
function methods:toJSON() return getters.href(self) end

---@class URLConstructor
---@overload fun(input: string|URL, base?: string|URL): URL
local URL = setmetatable(search.constructor('URL'), {
  __call = function(_, input, base) return new_url(input, base) end,
})
URL.new = new_url

--- Whether input (against base) is a valid URL.
---@return boolean
function URL.canParse(input, base)
  if input == nil then return false end
  return parse_with_base(input, base) ~= nil
end

--- The URL of input (against base), or nil when it is not valid.
---@return URL|nil
function URL.parse(input, base)
  if input == nil then return nil end
  local r, href = parse_with_base(input, base)
  return r and wrap(r, href)
end

M.URL = URL
M.URLSearchParams = search.URLSearchParams

-- ---- Node's helpers ----

local function as_url(u, name)
  if is_url(u) then return u end
  if type(u) ~= 'string' then errors.check_type(u, name, 'string') end
  return new_url(u)
end

--- The file system path of a file: URL (POSIX rules).
---@param u string|URL
---@return string
function M.fileURLToPath(u)
  u = as_url(u, 'path')
  local r = u._r
  if r.scheme ~= 'file' then errors.throw('ERR_INVALID_URL_SCHEME', 'The URL must be of scheme file') end
  if r.host ~= '' then
    errors.throw('ERR_INVALID_FILE_URL_HOST', 'File URL host must be "localhost" or empty on linux')
  end
  if find(r.path, '%%2[fF]') then
    errors.throw('ERR_INVALID_FILE_URL_PATH', 'File URL path must not include encoded / characters')
  end
  return pct.decode(r.path)
end

--- The file: URL of a path (made absolute against the current directory).
---@param path string
---@return URL
function M.pathToFileURL(path)
  errors.check_type(path, 'path', 'string')
  local resolved = require('path').resolve(path)
  if byte(path, -1) == 47 and byte(resolved, -1) ~= 47 then resolved = resolved .. '/' end
  -- what the pathname setter would not encode but a path may hold
  resolved = gsub(resolved, '[%%\\\n\r\t]', pct.HEX)
  local u = new_url('file:///')
  u.pathname = resolved
  return u
end

--- The href of a URL with parts left out: options auth, fragment, search
--- (default true) and unicode (default false: hosts stay Punycode).
---@param u string|URL
---@param opts table|nil
---@return string
function M.format(u, opts)
  u = as_url(u, 'urlObject')
  opts = opts or {}
  local r = u._r
  local auth, fragment, srch = opts.auth ~= false, opts.fragment ~= false, opts.search ~= false
  local out = { r.scheme, ':' }
  if r.host then
    out[#out + 1] = '//'
    if auth and (r.username ~= '' or r.password ~= '') then
      out[#out + 1] = r.username
      if r.password ~= '' then out[#out + 1] = ':' .. r.password end
      out[#out + 1] = '@'
    end
    out[#out + 1] = opts.unicode and hostp.domain_to_unicode(r.host) or r.host
    if r.port then out[#out + 1] = ':' .. r.port end
  elseif not r.opaque and byte(r.path, 2) == 47 then
    out[#out + 1] = '/.'
  end
  out[#out + 1] = r.path
  if srch and r.query then out[#out + 1] = '?' .. r.query end
  if fragment and r.fragment then out[#out + 1] = '#' .. r.fragment end
  return table.concat(out)
end

--- The options table http.request takes, from a URL (Node's shape).
---@param u URL
---@return table
function M.urlToHttpOptions(u)
  u = as_url(u, 'url')
  local r = u._r
  local hostname = r.host or ''
  if byte(hostname, 1) == 91 then hostname = sub(hostname, 2, -2) end
  local o = {
    protocol = r.scheme .. ':', hostname = hostname, hash = getters.hash(u), search = getters.search(u),
    pathname = r.path, path = r.path .. getters.search(u), href = getters.href(u),
  }
  if r.port then o.port = r.port end
  if r.username ~= '' or r.password ~= '' then
    o.auth = pct.decode(r.username) .. ':' .. pct.decode(r.password)
  end
  return o
end

--- Resolve a target reference against a base as a browser resolves a link
--- (Node's legacy url.resolve, done the way its documentation shows with
--- WHATWG URLs: a relative base stays relative).
---@param from string
---@param to string
---@return string
function M.resolve(from, to)
  errors.check_type(from, 'from', 'string')
  errors.check_type(to, 'to', 'string')
  local base = parse(from, parse('resolve://'))
  local r = base and parse(to, base)
  if not r then invalid_url(to, from, 2) end
  if r.scheme == 'resolve' then
    return r.path .. (r.query and r.query ~= '' and '?' .. r.query or '')
      .. (r.fragment and r.fragment ~= '' and '#' .. r.fragment or '')
  end
  return serialize(r)
end

--- The ASCII (Punycode) form of a domain, or '' when it is not valid.
---@param domain string
---@return string
function M.domainToASCII(domain)
  return hostp.parse(tostring(domain), false) or ''
end

--- The Unicode form of a domain, or '' when it is not valid.
---@param domain string
---@return string
function M.domainToUnicode(domain)
  local host = hostp.parse(tostring(domain), false)
  return host and hostp.domain_to_unicode(host) or ''
end

return M
