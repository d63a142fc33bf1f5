--- luster.stream_pipe — Readable:pipe and unpipe of the stream model
--- (lua/luster/stream.lua), installed on Readable by it.
return function(Readable, rstate)

  --- Send everything to `dest` (a Writable), pausing while dest:write() says
  --- false and resuming on its 'drain'; dest:finish() at the end unless
  --- `opts['end'] == false`.  Returns dest.
  ---@param dest table
  ---@param opts? table
  ---@return table
  function Readable:pipe(dest, opts)
    local src, st = self, rstate(self)
    local waiting = false
    local p = {}
    local function ondrain()
      if not waiting then return end
      waiting = false
      src:resume()
    end
    local function ondata(chunk)
      if dest:write(chunk) == false and not waiting then
        waiting = true
        src:pause()
      end
    end
    local function onend()
      p.cleanup()
      if not opts or opts['end'] ~= false then dest:finish() end
    end
    local function onclose() p.cleanup(); src:pause() end
    function p.cleanup()
      src:removeListener('data', ondata)
      src:removeListener('end', onend)
      dest:removeListener('drain', ondrain)
      dest:removeListener('close', onclose)
      dest:removeListener('finish', onclose)
      if st.pipes then st.pipes[dest] = nil end
    end
    st.pipes = st.pipes or {}
    st.pipes[dest] = p
    dest:on('drain', ondrain)
    dest:once('close', onclose)
    dest:once('finish', onclose)
    src:on('data', ondata)
    src:once('end', onend)
    if dest.emit then dest:emit('pipe', src) end
    return dest
  end

  --- Stop piping into `dest` (or into every destination).
  function Readable:unpipe(dest)
    local st = rstate(self)
    local pipes = st.pipes
    if not pipes then return self end
    if dest then
      if pipes[dest] then pipes[dest].cleanup() end
    else
      for _, p in pairs(pipes) do p.cleanup() end
    end
    if next(pipes) == nil then self:pause() end
    return self
  end

end
