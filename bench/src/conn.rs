//! Blocking client connections: plain TCP to a local port, or TLS to the relay.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub enum Dialer {
    /// Plain TCP.
    Tcp(SocketAddr),
    /// TLS over TCP, trusting the relay's certificate.
    Tls(SocketAddr, Arc<ClientConfig>),
}

/// An open connection, with TCP_NODELAY set and read and write timeouts.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Dialer {
    /// TCP to 127.0.0.1:`port`.
    pub fn local(port: u16) -> Self {
        Self::Tcp(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// Connects, with `timeout` for the connect and every later read or write.
    pub fn dial(&self, timeout: Duration) -> std::io::Result<Conn> {
        let addr = match self {
            Self::Tcp(a) | Self::Tls(a, _) => a,
        };
        let tcp = TcpStream::connect_timeout(addr, timeout)?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_write_timeout(Some(timeout))?;
        match self {
            Self::Tcp(_) => Ok(Conn::Tcp(tcp)),
            Self::Tls(_, config) => {
                let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
                let tls = ClientConnection::new(config.clone(), name.to_owned())
                    .map_err(std::io::Error::other)?;
                Ok(Conn::Tls(Box::new(StreamOwned::new(tls, tcp))))
            }
        }
    }
}

impl Conn {
    /// Ends the sending direction: a TCP half-close, or a TLS close_notify.
    pub fn finish_writing(&mut self) -> std::io::Result<()> {
        match self {
            Self::Tcp(t) => t.shutdown(Shutdown::Write),
            Self::Tls(t) => {
                t.conn.send_close_notify();
                t.flush()
            }
        }
    }

    /// Sends `data` and reads back exactly as many bytes (one echo round trip).
    pub fn echo(&mut self, data: &[u8], back: &mut [u8]) -> std::io::Result<()> {
        self.write_all(data)?;
        self.flush()?;
        self.read_exact(back)?;
        if data == back {
            Ok(())
        } else {
            Err(std::io::Error::other("the echo answered different bytes"))
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(t) => t.read(buf),
            Self::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(t) => t.write(buf),
            Self::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Tcp(t) => t.flush(),
            Self::Tls(t) => t.flush(),
        }
    }
}
