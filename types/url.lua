---@meta url
-- LuaCATS definitions for luster's `url`: the WHATWG URL API (URL and
-- URLSearchParams, also globals) and Node's helpers around it.  Node's
-- legacy url.parse is not there.

---A parsed URL; every property is a getter (and setter) over the URL
---record, as the URL Standard defines them.  `tostring(u)` is its href.
---@class URL
---@field href string the whole URL (setting it parses again)
---@field origin string read-only: 'https://example.com:8080', or 'null'
---@field protocol string 'https:'
---@field username string
---@field password string
---@field host string hostname and port
---@field hostname string
---@field port string '' for the scheme's default port
---@field pathname string
---@field search string '?x=1', or ''
---@field hash string '#top', or ''
---@field searchParams URLSearchParams read-only: the query as a live URLSearchParams
local URLInstance = {}
---The href.
---@return string
function URLInstance:toString() end
---The href (what json.encode uses).
---@return string
function URLInstance:toJSON() end

---`URL(input[, base])` parses `input` (against `base`), raising
---ERR_INVALID_URL (a TypeError) when it is not a valid URL.
---@class URLConstructor
---@overload fun(input: string|URL, base?: string|URL): URL
local URL = {}
---@param input string|URL
---@param base? string|URL
---@return URL
function URL.new(input, base) end
---Whether `input` (against `base`) is a valid URL.
---@param input string|URL
---@param base? string|URL
---@return boolean
function URL.canParse(input, base) end
---The URL of `input` (against `base`), or nil when it is not valid.
---@param input string|URL
---@param base? string|URL
---@return URL|nil
function URL.parse(input, base) end

---The name-value pairs of a query string.  One that belongs to a URL
---(`url.searchParams`) writes itself back into the URL's search.
---`tostring(p)` is its urlencoded form; `pairs(p)` iterates the pairs.
---@class URLSearchParams
---@field size integer the number of name-value pairs
local Params = {}
---Add a pair at the end.
---@param name string
---@param value string|number
function Params:append(name, value) end
---Remove every pair with that name (and that value, when given).
---@param name string
---@param value? string
function Params:delete(name, value) end
---The first value for name, or nil.
---@param name string
---@return string|nil
function Params:get(name) end
---Every value for name, in order.
---@param name string
---@return string[]
function Params:getAll(name) end
---Whether a pair has that name (and that value, when given).
---@param name string
---@param value? string
---@return boolean
function Params:has(name, value) end
---Set the first pair with that name to value and remove the others (or
---append the pair when there is none).
---@param name string
---@param value string|number
function Params:set(name, value) end
---Sort the pairs by name (stable: equal names keep their order).
function Params:sort() end
---The urlencoded string (without '?').
---@return string
function Params:toString() end
---Iterate `for name, value in params:entries() do`.
---@return fun(): string?, string?
function Params:entries() end
---Iterate the names.
---@return fun(): string?
function Params:keys() end
---Iterate the values.
---@return fun(): string?
function Params:values() end
---`fn(value, name, params)` for each pair, as in JavaScript.
---@param fn fun(value: string, name: string, params: URLSearchParams)
function Params:forEach(fn) end

---`URLSearchParams([init])`: init is a query string ('?' optional), a map
---`{name = value}` (names sorted; a list value gives one pair each), a
---list of `{name, value}` pairs, or another URLSearchParams.
---@class URLSearchParamsConstructor
---@overload fun(init?: string|table|URLSearchParams): URLSearchParams
local URLSearchParams = {}
---@param init? string|table|URLSearchParams
---@return URLSearchParams
function URLSearchParams.new(init) end

---@class url
local url = {}

---@type URLConstructor
url.URL = URL
---@type URLSearchParamsConstructor
url.URLSearchParams = URLSearchParams

---Whether `v` is a URL object (JavaScript's `v instanceof URL`; luster's own).
---@param v any
---@return boolean
function url.isURL(v) end

---The file system path of a file: URL (POSIX rules).
---@param u string|URL
---@return string
function url.fileURLToPath(u) end

---The file: URL of a path (made absolute against the current directory).
---@param path string
---@return URL
function url.pathToFileURL(path) end

---The href of a URL with parts left out: options auth, fragment, search
---(default true) and unicode (default false: hosts stay Punycode).
---@param u string|URL
---@param opts? {auth?: boolean, fragment?: boolean, search?: boolean, unicode?: boolean}
---@return string
function url.format(u, opts) end

---The options table http.request takes, from a URL (Node's shape).
---@param u string|URL
---@return {protocol: string, hostname: string, port?: integer, path: string, pathname: string, search: string, hash: string, href: string, auth?: string}
function url.urlToHttpOptions(u) end

---Resolve a target against a base as a browser resolves a link (Node's
---legacy url.resolve; a relative base stays relative).
---@param from string
---@param to string
---@return string
function url.resolve(from, to) end

---The ASCII (Punycode) form of a domain, or '' when it is not valid.
---@param domain string
---@return string
function url.domainToASCII(domain) end

---The Unicode form of a domain, or '' when it is not valid.
---@param domain string
---@return string
function url.domainToUnicode(domain) end

return url
