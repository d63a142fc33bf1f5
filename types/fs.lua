---@meta fs
-- LuaCATS definitions for luster's `fs` subset.  Strings are bytes; an
-- encoding argument is accepted and ignored.  Errors carry Node's codes
-- (ENOENT, EEXIST, ...).  `require('fs/promises')` is `fs.promises`.

---@class fs.Stats
---@field size integer
---@field mode integer
---@field mtimeMs number
---@field atimeMs number
---@field ctimeMs number
---@field birthtimeMs number
---@field isFile fun(): boolean
---@field isDirectory fun(): boolean
---@field isSymbolicLink fun(): boolean

---@alias fs.Callback fun(err: table|nil, result?: any)

---Promise forms: each returns a Promise (run on libuv's threadpool).
---@class fs.promises
local promises = {}

---@param path string
---@param encoding? string|table
---@return Promise # of string
function promises.readFile(path, encoding) end
---@param path string
---@param data string
---@return Promise
function promises.writeFile(path, data) end
---@param path string
---@param data string
---@return Promise
function promises.appendFile(path, data) end
---@param path string
---@return Promise # of fs.Stats
function promises.stat(path) end
---@param path string
---@return Promise # of fs.Stats
function promises.lstat(path) end
---@param path string
---@return Promise # of string[] (sorted)
function promises.readdir(path) end
---@param path string
---@return Promise
function promises.unlink(path) end
---@param path string
---@return Promise
function promises.rmdir(path) end
---@param from string
---@param to string
---@return Promise
function promises.rename(from, to) end
---Resolves when `path` exists, rejects with ENOENT otherwise.
---@param path string
---@return Promise
function promises.access(path) end
---@param path string
---@param opts? {recursive?: boolean}
---@return Promise
function promises.mkdir(path, opts) end
---@param path string
---@param opts? {recursive?: boolean, force?: boolean}
---@return Promise
function promises.rm(path, opts) end

---@class fs
local fs = {}

---@type fs.promises
fs.promises = promises

---@param path string
---@param encoding? string|table
---@return string
function fs.readFileSync(path, encoding) end
---@param path string
---@param data string
function fs.writeFileSync(path, data) end
---@param path string
---@param data string
function fs.appendFileSync(path, data) end
---@param path string
---@return fs.Stats
function fs.statSync(path) end
---@param path string
---@return fs.Stats
function fs.lstatSync(path) end
---@param path string
---@return string[]
function fs.readdirSync(path) end
---@param path string
function fs.unlinkSync(path) end
---@param path string
function fs.rmdirSync(path) end
---@param from string
---@param to string
function fs.renameSync(from, to) end
---@param path string
---@return boolean
function fs.existsSync(path) end
---@param path string
---@param opts? {recursive?: boolean}
function fs.mkdirSync(path, opts) end
---@param path string
---@param opts? {recursive?: boolean, force?: boolean}
function fs.rmSync(path, opts) end

---Callback forms, `cb(err, result)`.
---@param path string
---@param encoding_or_cb string|table|fs.Callback
---@param cb? fs.Callback
function fs.readFile(path, encoding_or_cb, cb) end
---@param path string
---@param data string
---@param cb fs.Callback
function fs.writeFile(path, data, cb) end
---@param path string
---@param data string
---@param cb fs.Callback
function fs.appendFile(path, data, cb) end
---@param path string
---@param cb fs.Callback
function fs.stat(path, cb) end
---@param path string
---@param cb fs.Callback
function fs.lstat(path, cb) end
---@param path string
---@param cb fs.Callback
function fs.readdir(path, cb) end
---@param path string
---@param cb fs.Callback
function fs.unlink(path, cb) end
---@param path string
---@param cb fs.Callback
function fs.rmdir(path, cb) end
---@param from string
---@param to string
---@param cb fs.Callback
function fs.rename(from, to, cb) end
---@param path string
---@param opts_or_cb table|fs.Callback
---@param cb? fs.Callback
function fs.mkdir(path, opts_or_cb, cb) end

return fs
