--- The basic URL parser of the WHATWG URL Standard (its state machine,
--- state for state, including the state overrides the URL setters use) and
--- the URL serializer.
---
--- A URL record is a plain table:
---   scheme, username, password  strings
---   host                        serialized host string, or nil
---   port                        integer, or nil (also when it is the default)
---   path                        the serialized path ("/a/b", "" or, for an
---                               opaque path, the path itself)
---   opaque                      true when the path is opaque ("mailto:x")
---   query, fragment             strings without "?"/"#", or nil
--- While parsing, a non-opaque path is a list of segments; it is joined
--- when the parser returns.
---
--- Input is bytes (see url_percent.lua).  Where a state would consume a run
--- of code points one at a time (path segments, query, fragment, the
--- authority), this parser finds the end of the run with one scan and
--- encodes the run at once: the result is the same, with far fewer steps.  Plain
--- "http://host:port/path?query" input does not get here: url_fast.lua
--- takes it in one pass.
local pct = require('luster.url_percent')
local hostp = require('luster.url_host')

local byte, sub, find, lower, gsub = string.byte, string.sub, string.find, string.lower, string.gsub
local concat, tonumber = table.concat, tonumber
local encode = pct.encode

local M = {}

local SPECIAL = { ftp = 21, file = false, http = 80, https = 443, ws = 80, wss = 443 }
M.SPECIAL = SPECIAL

-- states
local SCHEME_START, SCHEME, NO_SCHEME, SPECIAL_RELATIVE_OR_AUTHORITY = 1, 2, 3, 4
local PATH_OR_AUTHORITY, RELATIVE, RELATIVE_SLASH, SPECIAL_AUTHORITY_SLASHES = 5, 6, 7, 8
local SPECIAL_AUTHORITY_IGNORE_SLASHES, AUTHORITY, HOST, HOSTNAME, PORT = 9, 10, 11, 12, 13
local FILE, FILE_SLASH, FILE_HOST, PATH_START, PATH, OPAQUE_PATH, QUERY, FRAGMENT =
  14, 15, 16, 17, 18, 19, 20, 21
M.states = {
  scheme_start = SCHEME_START, authority = AUTHORITY, host = HOST, hostname = HOSTNAME,
  port = PORT, path_start = PATH_START, query = QUERY, fragment = FRAGMENT,
}

local SLASH, BACKSLASH, QMARK, HASH, COLON = 47, 92, 63, 35, 58

local function is_alpha(c) return c and ((c >= 65 and c <= 90) or (c >= 97 and c <= 122)) end

-- "C:" or "C|" (normalized: only "C:")
local function is_drive(s, normalized)
  if #s ~= 2 or not is_alpha(byte(s, 1)) then return false end
  local b = byte(s, 2)
  return b == COLON or (not normalized and b == 124)
end
M.is_drive = is_drive

-- Whether input from byte p starts with a Windows drive letter.
local function starts_with_drive(input, p)
  if not is_drive(sub(input, p, p + 1)) then return false end
  local c = byte(input, p + 2)
  return c == nil or c == SLASH or c == BACKSLASH or c == QMARK or c == HASH
end

-- Byte sets for the scans below: loops of byte() and table lookups, which
-- LuaJIT compiles (a pattern class is tested item by item, per byte).
local function byte_set(chars)
  local t = {}
  for i = 1, #chars do t[byte(chars, i)] = true end
  return t
end
local SCHEME_BYTE = byte_set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.')
local ENDS_SEGMENT = { special = byte_set('/\\?#'), other = byte_set('/?#'),
  special_override = byte_set('/\\'), other_override = byte_set('/') }
local ENDS_AUTHORITY = { special = ENDS_SEGMENT.special, other = ENDS_SEGMENT.other }

-- The first byte from p on that is in set, or len + 1.
local function scan_to(input, p, set)
  local len = #input
  for i = p, len do
    if set[byte(input, i)] then return i end
  end
  return len + 1
end

-- The first byte from p on that is not in set, or nil.
local function scan_over(input, p, set)
  for i = p, #input do
    if not set[byte(input, i)] then return i end
  end
  return nil
end

local DOUBLE_DOT = { ['..'] = true, ['.%2e'] = true, ['%2e.'] = true, ['%2e%2e'] = true }
local SINGLE_DOT = { ['.'] = true, ['%2e'] = true }

local function shorten(url)
  local path = url.path
  local n = #path
  if url.scheme == 'file' and n == 1 and is_drive(path[1], true) then return end
  path[n] = nil
end

--- The segments of a serialized non-opaque path ("" -> {}, "/" -> {""}).
function M.split_path(s)
  local segs, n, start = {}, 0, 2
  if s == '' then return segs end
  while true do
    local slash = find(s, '/', start, true)
    n = n + 1
    if not slash then segs[n] = sub(s, start) return segs end
    segs[n] = sub(s, start, slash - 1)
    start = slash + 1
  end
end
local split_path = M.split_path

local function copy_path(base)
  if base.opaque then return base.path end
  return split_path(base.path)
end

local function fail() return nil end

-- The state machine.  Without `url`, parses `input` (against `base`, a
-- URL record or nil) into a new record and returns it, or nil on failure.
-- With `url` and `override` (a state), updates `url` in place as the
-- setters do and returns `url`, or nil when the input was refused.  It
-- leaves a non-opaque path as a list; M.parse joins it.
local function run(input, base, url, override)
  if not url then
    url = { scheme = '', username = '', password = '', path = {} }
    -- strip leading and trailing C0 controls and spaces
    -- (by index: an end-anchored pattern backtracks over every inner run)
    local i, j = 1, #input
    while i <= j and byte(input, i) <= 32 do i = i + 1 end
    while j >= i and byte(input, j) <= 32 do j = j - 1 end
    if i > 1 or j < #input then input = sub(input, i, j) end
  elseif not url.opaque and type(url.path) == 'string' then
    url.path = split_path(url.path)
  end
  if find(input, '\t', 1, true) or find(input, '\n', 1, true) or find(input, '\r', 1, true) then
    input = gsub(input, '[\t\n\r]', '')
  end

  local state = override or SCHEME_START
  local p, len = 1, #input
  local buffer = ''
  local special = SPECIAL[url.scheme] ~= nil
  local inside_brackets = false

  while true do
    local c = byte(input, p) -- nil at EOF

    if state == SCHEME_START then
      if is_alpha(c) then
        state = SCHEME
        p = p - 1
      elseif not override then
        state = NO_SCHEME
        p = p - 1
      else
        return fail()
      end

    elseif state == SCHEME then
      local q = scan_over(input, p, SCHEME_BYTE)
      c = q and byte(input, q)
      if c == COLON then
        buffer = lower(sub(input, p, q - 1))
        p = q
        if override then
          local was_special, now_special = SPECIAL[url.scheme] ~= nil, SPECIAL[buffer] ~= nil
          if was_special ~= now_special then return url end
          if (url.username ~= '' or url.password ~= '' or url.port) and buffer == 'file' then return url end
          if url.scheme == 'file' and url.host == '' then return url end
        end
        url.scheme = buffer
        special = SPECIAL[buffer] ~= nil
        if override then
          if url.port and url.port == SPECIAL[buffer] then url.port = nil end
          break
        end
        buffer = ''
        if url.scheme == 'file' then
          state = FILE
        elseif special and base and base.scheme == url.scheme then
          state = SPECIAL_RELATIVE_OR_AUTHORITY
        elseif special then
          state = SPECIAL_AUTHORITY_SLASHES
        elseif byte(input, p + 1) == SLASH then
          state = PATH_OR_AUTHORITY
          p = p + 1
        else
          url.opaque = true
          url.path = ''
          state = OPAQUE_PATH
        end
      elseif not override then
        buffer = ''
        state = NO_SCHEME
        p = 0
      else
        return fail()
      end

    elseif state == NO_SCHEME then
      if not base or (base.opaque and c ~= HASH) then
        return fail()
      elseif base.opaque and c == HASH then
        url.scheme, url.path, url.opaque, url.query = base.scheme, base.path, true, base.query
        url.fragment = ''
        special = SPECIAL[url.scheme] ~= nil
        state = FRAGMENT
      elseif base.scheme ~= 'file' then
        state = RELATIVE
        p = p - 1
      else
        state = FILE
        p = p - 1
      end

    elseif state == SPECIAL_RELATIVE_OR_AUTHORITY then
      if c == SLASH and byte(input, p + 1) == SLASH then
        state = SPECIAL_AUTHORITY_IGNORE_SLASHES
        p = p + 1
      else
        state = RELATIVE
        p = p - 1
      end

    elseif state == PATH_OR_AUTHORITY then
      if c == SLASH then
        state = AUTHORITY
      else
        state = PATH
        p = p - 1
      end

    elseif state == RELATIVE then
      url.scheme = base.scheme
      special = SPECIAL[url.scheme] ~= nil
      if c == SLASH or (special and c == BACKSLASH) then
        state = RELATIVE_SLASH
      else
        url.username, url.password, url.host, url.port = base.username, base.password, base.host, base.port
        url.path, url.query = copy_path(base), base.query
        if c == QMARK then
          url.query = ''
          state = QUERY
        elseif c == HASH then
          url.fragment = ''
          state = FRAGMENT
        elseif c then
          url.query = nil
          shorten(url)
          state = PATH
          p = p - 1
        end
      end

    elseif state == RELATIVE_SLASH then
      if special and (c == SLASH or c == BACKSLASH) then
        state = SPECIAL_AUTHORITY_IGNORE_SLASHES
      elseif c == SLASH then
        state = AUTHORITY
      else
        url.username, url.password, url.host, url.port = base.username, base.password, base.host, base.port
        state = PATH
        p = p - 1
      end

    elseif state == SPECIAL_AUTHORITY_SLASHES then
      state = SPECIAL_AUTHORITY_IGNORE_SLASHES
      if c == SLASH and byte(input, p + 1) == SLASH then p = p + 1 else p = p - 1 end

    elseif state == SPECIAL_AUTHORITY_IGNORE_SLASHES then
      if c ~= SLASH and c ~= BACKSLASH then
        state = AUTHORITY
        p = p - 1
      end

    elseif state == AUTHORITY then
      -- the authority runs to the first / ? # (or \ when special); its
      -- last @ ends the credentials, the first : in them starts the password
      local stop = scan_to(input, p, special and ENDS_AUTHORITY.special or ENDS_AUTHORITY.other)
      local auth = sub(input, p, stop - 1)
      local at = nil
      local k = find(auth, '@', 1, true)
      while k do at = k k = find(auth, '@', k + 1, true) end
      if at then
        local userinfo = sub(auth, 1, at - 1)
        local colon = find(userinfo, ':', 1, true)
        if colon then
          url.username = url.username .. encode(sub(userinfo, 1, colon - 1), pct.USERINFO)
          url.password = url.password .. encode(sub(userinfo, colon + 1), pct.USERINFO)
        else
          url.username = url.username .. encode(userinfo, pct.USERINFO)
        end
        if at == #auth then return fail() end
        p = p + at
      end
      state = HOST
      p = p - 1

    elseif state == HOST or state == HOSTNAME then
      if override and url.scheme == 'file' then
        state = FILE_HOST
        p = p - 1
      else
        -- the host runs to a : outside brackets, or to / ? # (\ when special)
        local q = p
        local d = c
        while d do
          if d == COLON and not inside_brackets then break end
          if d == SLASH or d == QMARK or d == HASH or (special and d == BACKSLASH) then break end
          if d == 91 then inside_brackets = true elseif d == 93 then inside_brackets = false end
          q = q + 1
          d = byte(input, q)
        end
        buffer = sub(input, p, q - 1)
        p = q
        if d == COLON then
          if buffer == '' then return fail() end
          if override == HOSTNAME then return fail() end
          local host = hostp.parse(buffer, not special)
          if not host then return fail() end
          url.host = host
          buffer = ''
          state = PORT
        else
          p = p - 1
          if special and buffer == '' then return fail() end
          if override and buffer == '' and (url.username ~= '' or url.password ~= '' or url.port) then
            return fail()
          end
          local host = hostp.parse(buffer, not special)
          if not host then return fail() end
          url.host = host
          buffer = ''
          state = PATH_START
          if override then break end
        end
      end

    elseif state == PORT then
      local q = find(input, '[^0-9]', p) or len + 1
      buffer = sub(input, p, q - 1)
      p = q
      c = byte(input, p)
      if c == nil or c == SLASH or c == QMARK or c == HASH or (special and c == BACKSLASH) or override then
        if buffer ~= '' then
          local port = tonumber(buffer)
          if port > 65535 then return fail() end
          if port == SPECIAL[url.scheme] then url.port = nil else url.port = port end
          buffer = ''
          if override then break end
        end
        if override then return fail() end
        state = PATH_START
        p = p - 1
      else
        return fail()
      end

    elseif state == FILE then
      url.scheme = 'file'
      special = true
      url.host = ''
      if c == SLASH or c == BACKSLASH then
        state = FILE_SLASH
      elseif base and base.scheme == 'file' then
        url.host, url.path, url.query = base.host, copy_path(base), base.query
        if c == QMARK then
          url.query = ''
          state = QUERY
        elseif c == HASH then
          url.fragment = ''
          state = FRAGMENT
        elseif c then
          url.query = nil
          if not starts_with_drive(input, p) then shorten(url) else url.path = {} end
          state = PATH
          p = p - 1
        end
      else
        state = PATH
        p = p - 1
      end

    elseif state == FILE_SLASH then
      if c == SLASH or c == BACKSLASH then
        state = FILE_HOST
      else
        if base and base.scheme == 'file' then
          url.host = base.host
          if not starts_with_drive(input, p) then
            local first = split_path(base.path)[1]
            if first and is_drive(first, true) then url.path[#url.path + 1] = first end
          end
        end
        state = PATH
        p = p - 1
      end

    elseif state == FILE_HOST then
      local q = find(input, '[/\\?#]', p) or len + 1
      buffer = sub(input, p, q - 1)
      p = q - 1
      if not override and is_drive(buffer) then
        state = PATH -- the buffer carries on as the first segment
      elseif buffer == '' then
        url.host = ''
        if override then break end
        state = PATH_START
      else
        local host = hostp.parse(buffer, not special)
        if not host then return fail() end
        if host == 'localhost' then host = '' end
        url.host = host
        if override then break end
        buffer = ''
        state = PATH_START
      end

    elseif state == PATH_START then
      if special then
        state = PATH
        if c ~= SLASH and c ~= BACKSLASH then p = p - 1 end
      elseif not override and c == QMARK then
        url.query = ''
        state = QUERY
      elseif not override and c == HASH then
        url.fragment = ''
        state = FRAGMENT
      elseif c then
        state = PATH
        if c ~= SLASH then p = p - 1 end
      else
        if override and url.host == nil then url.path[#url.path + 1] = '' end
        break
      end

    elseif state == PATH then
      local ends = override and (special and ENDS_SEGMENT.special_override or ENDS_SEGMENT.other_override)
        or (special and ENDS_SEGMENT.special or ENDS_SEGMENT.other)
      local q = scan_to(input, p, ends)
      if q > p then buffer = buffer .. encode(sub(input, p, q - 1), pct.PATH) end
      p = q
      c = byte(input, p)
      local path = url.path
      local slash = c == SLASH or (special and c == BACKSLASH)
      local b = #buffer <= 6 and lower(buffer) or ''
      if DOUBLE_DOT[b] then
        shorten(url)
        if not slash then path[#path + 1] = '' end
      elseif SINGLE_DOT[b] then
        if not slash then path[#path + 1] = '' end
      else
        if url.scheme == 'file' and #path == 0 and is_drive(buffer) then
          buffer = sub(buffer, 1, 1) .. ':'
        end
        path[#path + 1] = buffer
      end
      buffer = ''
      if c == QMARK then
        url.query = ''
        state = QUERY
      elseif c == HASH then
        url.fragment = ''
        state = FRAGMENT
      elseif c == nil then
        break
      end

    elseif state == OPAQUE_PATH then
      local q = find(input, '[?#]', p) or len + 1
      url.path = url.path .. encode(sub(input, p, q - 1), pct.C0)
      p = q
      c = byte(input, p)
      if c == QMARK then
        url.query = ''
        state = QUERY
      elseif c == HASH then
        url.fragment = ''
        state = FRAGMENT
      else
        break
      end

    elseif state == QUERY then
      local q = (not override and find(input, '#', p, true)) or len + 1
      url.query = (url.query or '') .. encode(sub(input, p, q - 1), special and pct.SPECIAL_QUERY or pct.QUERY)
      p = q
      if byte(input, p) == HASH then
        url.fragment = ''
        state = FRAGMENT
      else
        break
      end

    elseif state == FRAGMENT then
      url.fragment = (url.fragment or '') .. encode(sub(input, p), pct.FRAGMENT)
      break
    end

    -- the Standard's loop: stop once a state has run with the pointer at EOF
    if p > len then break end
    p = p + 1
  end

  return url
end

local parse_fast = require('luster.url_fast')

--- Run the basic URL parser (see `run` above for what it does with which
--- arguments).  Unless it updates a record, the fast path
--- (luster/url_fast.lua) gets the first look (what it takes starts with a
--- special scheme and //, which no base changes); its second result, when there
--- is one, is the href (the fast path knows when that is the input).
---@param input string
---@param base table|nil
---@param url table|nil
---@param override integer|nil
---@return table|nil record, string|nil href
function M.parse(input, base, url, override, no_fast_path)
  if not url and not no_fast_path then
    local r, href = parse_fast(input)
    if r then return r, href end
  end
  local result = run(input, base, url, override)
  -- a refused setter leaves its record whole: the path is joined either way
  local u = result or url
  if u and not u.opaque and type(u.path) == 'table' then
    local path = u.path
    u.path = #path == 0 and '' or '/' .. concat(path, '/')
  end
  return result
end

-- Both halves on their own, for the spec that holds them to the same result.
M.parse_fast = parse_fast
function M.parse_state_machine(input) return M.parse(input, nil, nil, nil, true) end

--- The href of a record (without the fragment when `exclude_fragment`).
---@param u table
---@param exclude_fragment boolean|nil
---@return string
function M.serialize(u, exclude_fragment)
  local out, n = { u.scheme, ':' }, 2
  local host = u.host
  if host then
    n = n + 1
    out[n] = '//'
    if u.username ~= '' or u.password ~= '' then
      out[n + 1] = u.username
      n = n + 1
      if u.password ~= '' then
        out[n + 1], out[n + 2] = ':', u.password
        n = n + 2
      end
      n = n + 1
      out[n] = '@'
    end
    n = n + 1
    out[n] = host
    if u.port then
      out[n + 1], out[n + 2] = ':', u.port
      n = n + 2
    end
  elseif not u.opaque and byte(u.path, 2) == SLASH then
    n = n + 1
    out[n] = '/.'
  end
  n = n + 1
  out[n] = u.path
  if u.query then
    out[n + 1], out[n + 2] = '?', u.query
    n = n + 2
  end
  if u.fragment and not exclude_fragment then
    out[n + 1], out[n + 2] = '#', u.fragment
    n = n + 2
  end
  return concat(out, '', 1, n)
end

return M
