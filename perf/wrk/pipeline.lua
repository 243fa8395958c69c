-- Pipelined requests for wrk, TechEmpower plaintext style: each write carries `depth`
-- copies of the request (default 16) and wrk counts every response.
-- Usage: wrk -s perf/wrk/pipeline.lua URL -- 16

init = function(args)
    local depth = tonumber(args[1]) or 16
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format()
    end
    req = table.concat(r)
end

request = function()
    return req
end
