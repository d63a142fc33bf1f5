--- luster.fetch — the global `fetch(input[, init])` (API.md "HTTP client and
--- fetch"), on the HTTP client (lua/luster/http_client.lua) and its
--- keep-alive global agent.
---
--- As undici: redirects are followed up to 20 ('manual' returns the 3xx
--- response, 'error' rejects); a 303 (and a 301/302 answering a POST)
--- becomes a GET without body; Authorization is dropped when a redirect
--- leaves the origin.  fetch asks for `gzip, deflate, br` itself and then
--- decodes the body as it streams (zlib Transforms).  Network failures
--- reject with a TypeError-named error, message 'fetch failed', whose
--- `cause` has the system code (ECONNREFUSED, ENOTFOUND...); an abort
--- rejects with the signal's reason (an AbortError or TimeoutError).
--- luster extension: init.ca/cert/key/rejectUnauthorized for https:.
local client = require('luster.http_client')
local fast = require('luster.fetch_exchange')
local classes = require('luster.fetch_classes')
local Headers = require('luster.fetch_headers')
local errors = require('luster.errors')
local Promise = require('luster.promise')

local Request, Response = classes.Request, classes.Response
local type, tostring = type, tostring
local settle_ok, settle_err, new_promise = Promise._resolve, Promise._reject, Promise._pending

local M = {}

local MAX_REDIRECTS = 20
-- what fetch sends unless the request says otherwise, in this order
local DEFAULTS = fast.DEFAULTS

local function noop() end

local function fetch_failed(cause)
  local e = errors.new('TypeError', 'fetch failed', 3)
  e.name = 'TypeError'
  e.cause = cause
  return e
end

local function origin_of(u) return u.protocol .. '//' .. u.host end

-- A decoder for a Content-Encoding we asked for, or nil.
local function decoder(encoding)
  local zlib = require('zlib')
  encoding = encoding and encoding:lower():gsub('%s', '')
  if encoding == 'gzip' or encoding == 'x-gzip' then return zlib.createGunzip() end
  if encoding == 'br' then return zlib.createBrotliDecompress() end
  if encoding == 'deflate' then return zlib.createUnzip() end
end

-- The Response for an http.IncomingMessage.
local function make_response(res, url, redirected, decode)
  local status = res.statusCode
  local body = res
  if status == 204 or status == 304 or res.req.method == 'HEAD' then
    body = nil
    res:resume()
  elseif decode then
    local d = decoder(res.headers['content-encoding'])
    if d then
      res:on('error', function(e) d:destroy(e) end)
      body = res:pipe(d)
    end
  end
  -- `headers` is made on first use (fetch_classes.lua), from _raw_headers
  local r = setmetatable({
    status = status, statusText = res.statusMessage or '', _raw_headers = res.rawHeaders,
    ok = status >= 200 and status < 300, url = url, redirected = redirected,
    type = 'basic', bodyUsed = false, _source = body,
  }, Response)
  return r
end

-- fetch(url) with no init shares one empty Headers (never changed: a
-- redirect that drops headers takes its own first).
local NO_HEADERS = Headers.empty()
NO_HEADERS._plain = true   -- (fetch_exchange.lua: its request bytes are cached per URL)
local NO_INIT = setmetatable({}, { __newindex = function() error('fetch: internal init is read-only', 2) end })

local function own_headers(state)
  if state.headers == NO_HEADERS then state.headers = Headers.empty() end
  return state.headers
end

-- What a redirect turns the request into, or nil, err.
local function follow(status, loc, state)
  local ok, next_url = pcall(require('url').URL, loc, state.url.href)
  if not ok then return nil, fetch_failed(next_url) end
  if next_url.protocol ~= 'http:' and next_url.protocol ~= 'https:' then
    return nil, fetch_failed(errors.new('ERR_INVALID_URL', 'URL scheme must be a HTTP(S) scheme'))
  end
  state.redirects = state.redirects + 1
  if state.redirects > MAX_REDIRECTS then return nil, fetch_failed(errors.new('UND_ERR_REDIRECT', 'redirect count exceeded')) end
  if status == 303 and state.method ~= 'HEAD' or (status == 301 or status == 302) and state.method == 'POST' then
    state.method = 'GET'
    state.body = nil
    for _, h in ipairs { 'content-type', 'content-length', 'content-encoding', 'content-language', 'content-location' } do
      own_headers(state):delete(h)
    end
  elseif state.body ~= nil and type(state.body) ~= 'string' then
    return nil, fetch_failed(errors.new('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'cannot replay a streamed body on redirect'))
  end
  if origin_of(next_url) ~= origin_of(state.url) then
    own_headers(state):delete('authorization')
    own_headers(state):delete('cookie')
  end
  state.url = next_url
  return true
end

-- One HTTP exchange of the fetch; settles the outer promise or recurses
-- for a redirect.
local exchange

-- A streamed body through the decoder of its Content-Encoding, if we know it.
local function decoded(body, encoding)
  local d = decoder(encoding)
  if not d then return body end
  body:on('error', function(err) d:destroy(err) end)
  return body:pipe(d)
end

-- The common case, without a ClientRequest (lua/luster/fetch_exchange.lua):
-- plain http:, no signal, no body or a string body, one of our agents.
local function simple(state)
  if state.url.protocol ~= 'http:' or state.signal then return nil end
  local body = state.body
  if body ~= nil and type(body) ~= 'string' then return nil end
  local agent = state.init.dispatcher
  if agent == nil then agent = client.globalAgent end
  if not fast.usable_agent(agent) then return nil end
  return agent
end

-- An exchange of the fast path is over: the response, a redirect to
-- follow, or the failure.
local function exchanged(ex, state)
  local p = state.promise
  local e = ex.error
  if e then return settle_err(p, fetch_failed(e)) end
  local h, body = ex.head, ex.value
  local status = h.status
  local location = status >= 300 and status < 400 and status ~= 304 and h.headers.location
  if location and state.redirect ~= 'manual' then
    if type(body) == 'table' then body:resume() end   -- discarded: the socket goes back to the pool
    if state.redirect == 'error' then return settle_err(p, fetch_failed(errors.new('UND_ERR_REDIRECT', 'unexpected redirect'))) end
    local followed, err = follow(status, location, state)
    if not followed then return settle_err(p, err) end
    return exchange(state)
  end
  if type(body) == 'table' then
    body:on('error', noop)   -- reported through the body's readers
    if state.decode and h.contentEncoding then body = decoded(body, h.contentEncoding) end
  end
  -- type 'basic', bodyUsed false and redirected false come from the class
  local r = setmetatable({
    status = status, statusText = h.statusMessage or '', _raw_headers = h.raw,
    ok = status >= 200 and status < 300, url = state.url.href, _source = body,
  }, Response)
  if state.redirects > 0 then r.redirected = true end
  settle_ok(p, r)
end
fast.on_done = exchanged

local function fast_exchange(state, agent)
  state.decode = state.headers._values['accept-encoding'] == nil
  fast.start(state, agent)
end

-- Any other exchange, through a ClientRequest.
local function request_exchange(state, resolve, reject)
  local u = state.url
  local https = u.protocol == 'https:'
  local https_module
  if https then
    local has, mod = pcall(require, 'https')
    if not has then return reject(fetch_failed(errors.new('ERR_NOT_SUPPORTED', 'https is not available'))) end
    https_module = mod
  end
  -- the request's headers and fetch's defaults, as the client's trusted
  -- list (names lower-cased and values checked by Headers already)
  local given = state.headers
  local names, values = given._names, given._values
  local list = {}
  for i = 1, #names do
    local k = names[i]
    list[i], list[k] = k, values[k]
  end
  local n = #names
  for i = 1, #DEFAULTS, 2 do
    local k = DEFAULTS[i]
    if values[k] == nil then
      n = n + 1
      list[n], list[k] = k, DEFAULTS[i + 1]
    end
  end
  local decode = values['accept-encoding'] == nil
  local init = state.init
  local opts = {
    protocol = u.protocol, hostname = u.hostname, port = tonumber(u.port), method = state.method,
    path = (u.pathname ~= '' and u.pathname or '/') .. u.search, headers = list, _trusted_headers = true,
    ca = init.ca, cert = init.cert, key = init.key, rejectUnauthorized = init.rejectUnauthorized,
    _tls = https or nil, agent = init.dispatcher,
  }
  if https then opts._default_agent = https_module.globalAgent end
  local ok, req = pcall(client._request, opts)
  if not ok then return reject(fetch_failed(req)) end
  state.req = req
  req:on('response', function(res)
    local status = res.statusCode
    if status >= 300 and status < 400 and status ~= 304 and res.headers.location and state.redirect ~= 'manual' then
      res:resume()   -- discard the body so the socket goes back to the pool
      if state.redirect == 'error' then return reject(fetch_failed(errors.new('UND_ERR_REDIRECT', 'unexpected redirect'))) end
      local followed, err = follow(status, res.headers.location, state)
      if not followed then return reject(err) end
      return request_exchange(state, resolve, reject)
    end
    state.res = res
    res:on('error', noop)   -- reported through the body's readers
    resolve(make_response(res, u.href, state.redirects > 0, decode))
  end)
  req:on('error', function(e)
    if state.aborted then return end
    reject(fetch_failed(e))
  end)
  local body = state.body
  if body == nil then
    req:finish()
  elseif type(body) == 'string' then
    req:finish(body)
  else
    body:pipe(req)
  end
end

local function settle_with(state)
  local p = state.promise
  return function(v) settle_ok(p, v) end, function(e) settle_err(p, e) end
end

-- (no closure made here: LuaJIT compiles the common path through it)
function exchange(state)
  local agent = simple(state)
  if agent then return fast_exchange(state, agent) end
  return request_exchange(state, settle_with(state))
end

-- An abort rejects the fetch and tears down its request and response.
local function watch(state, signal)
  state.signal = signal
  signal:addEventListener('abort', function()
    state.aborted = true
    settle_err(state.promise, signal.reason)
    if state.req then state.req:destroy(signal.reason) end
    if state.res and not state.res.complete then state.res:destroy(signal.reason) end
  end, { once = true })
end

--- fetch(input[, init]) -> a promise of a Response.
function M.fetch(input, init)
  local state, signal
  if type(input) == 'string' and (init == nil or next(init) == nil) then
    -- fetch(url): what Request.new would check of a URL alone
    local ok, u = classes.parse_url(input)
    if ok and u.username == '' and u.password == '' then
      state = { url = u, method = 'GET', headers = NO_HEADERS, redirect = 'follow', redirects = 0, init = NO_INIT,
                promise = false, decode = false }
    end
  end
  if not state then
    init = init or {}
    local ok, request = pcall(Request.new, input, init)
    if not ok then return Promise.reject(request) end
    signal = request.signal
    if signal and signal.aborted then return Promise.reject(signal.reason) end
    state = {
      url = request._url, method = request.method, headers = request.headers, body = rawget(request, '_source'),
      redirect = request.redirect, redirects = 0, init = init, promise = false, decode = false,
    }
  end
  local p = new_promise()
  state.promise = p
  if signal then watch(state, signal) end
  -- as an executor would: what raises rejects the promise
  local ok, e = pcall(exchange, state)
  if not ok then settle_err(p, e) end
  return p
end

M.Headers, M.Request, M.Response = Headers, Request, Response
local abort = require('luster.abort')
M.AbortController, M.AbortSignal = abort.AbortController, abort.AbortSignal

return M
