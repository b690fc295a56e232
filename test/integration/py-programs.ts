/** Python programs shared by the network suites (run natively and in the sandbox, outputs compared). */

/** asyncio: 50 concurrent clients of a line-echo server on `host`; prints "True 50" when every reply is right. */
export function asyncioEcho(host: string): string {
  return `
import asyncio
async def handle(r, w):
    while True:
        line = await r.readline()
        if not line: break
        w.write(line.upper()); await w.drain()
    w.close()
async def main():
    srv = await asyncio.start_server(handle, '${host}', 0)
    port = srv.sockets[0].getsockname()[1]
    async def client(i):
        r, w = await asyncio.open_connection('${host}', port)
        out = []
        for j in range(20):
            w.write(f'c{i} line {j}\\n'.encode()); await w.drain()
            out.append(await r.readline())
        w.close(); await w.wait_closed()
        return out
    res = await asyncio.gather(*(client(i) for i in range(50)))
    print(all(o == [f'C{i} LINE {j}\\n'.encode() for j in range(20)] for i, o in enumerate(res)), len(res))
    srv.close(); await srv.wait_closed()
asyncio.run(main())
`;
}
