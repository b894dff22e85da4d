import socket, sys, time, ssl
port=int(sys.argv[1]); mode=sys.argv[2]
s=socket.create_connection(("127.0.0.1",port)); s.settimeout(3)
info=s.recv(4096); print("INFO:", info[:200])
t=time.time()
if mode=="plain":
    s.sendall(b"CONNECT {}\r\nPING\r\n")
if mode=="tls":
    ctx=ssl.create_default_context(cafile="/tmp/tlsx/ca.pem")
    c=ctx.wrap_socket(s, server_hostname="localhost"); print(c.version(), c.cipher())
    c.sendall(b"CONNECT {}\r\nPING\r\n"); print(c.recv(100)); sys.exit()
try:
    d=s.recv(4096); print("after:", d, "t=%.2f"%(time.time()-t))
    d=s.recv(4096); print("after2:", d, "t=%.2f"%(time.time()-t))
except Exception as e: print("exc", e, "t=%.2f"%(time.time()-t))
