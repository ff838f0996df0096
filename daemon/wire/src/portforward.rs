//! The legacy WebSocket port-forward channel protocol (kubelet/CRI, `ports=` query; spec §7.2).
//!
//! For the i-th requested port, channel `2i` carries data both ways and channel `2i+1` carries
//! error text from the server. The server's first message on each channel is the port as a
//! little-endian `u16`; clients send raw data behind the channel byte only.

use bytes::{BufMut as _, Bytes, BytesMut};

/// What a decoded message means, for the client side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Data from the remote port at `port_index`.
    Data {
        /// Index into the requested ports.
        port_index: usize,
        /// The bytes.
        data: Bytes,
    },
    /// Error text from the server about the port at `port_index`.
    Error {
        /// Index into the requested ports.
        port_index: usize,
        /// The bytes of the message (text).
        message: Bytes,
    },
}

/// Errors from the port-forward channel protocol.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortForwardError {
    /// The message had no channel byte.
    #[error("failed to decode port-forward message: the message is empty")]
    Empty,
    /// A channel beyond the requested ports.
    #[error("failed to decode port-forward message: channel {0} is not in use")]
    UnknownChannel(u8),
    /// The port prefix did not name the requested port.
    #[error(
        "failed to decode port-forward message: channel {channel} announced port {got}, expected {expected}"
    )]
    PortMismatch {
        /// The channel.
        channel: u8,
        /// The requested port.
        expected: u16,
        /// The announced port.
        got: u16,
    },
    /// More ports than channel numbers allow.
    #[error(
        "failed to set up port-forward channels: {0} ports exceed the 127 a channel byte can carry"
    )]
    TooManyPorts(usize),
}

/// The data channel of the port at `index`.
#[must_use]
pub fn data_channel(index: usize) -> u8 {
    u8::try_from(index * 2).unwrap_or(u8::MAX)
}

/// The error channel of the port at `index`.
#[must_use]
pub fn error_channel(index: usize) -> u8 {
    data_channel(index).saturating_add(1)
}

/// Encodes a message carrying `payload` on `channel` (channel byte plus payload).
#[must_use]
pub fn encode(channel: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 1);
    out.put_u8(channel);
    out.put_slice(payload);
    out.freeze()
}

/// The server's first message on `channel`: the port, little-endian.
#[must_use]
pub fn encode_port_prefix(channel: u8, port: u16) -> Bytes {
    let [lo, hi] = port.to_le_bytes();
    Bytes::copy_from_slice(&[channel, lo, hi])
}

/// Client-side decoder: strips the port prefix of each channel and routes the rest.
#[derive(Debug, Clone)]
pub struct ClientDecoder {
    ports: Vec<u16>,
    /// Per channel: bytes of the 2-byte prefix still to come, and the bytes seen so far.
    prefix: Vec<(u8, [u8; 2])>,
}

impl ClientDecoder {
    /// A decoder for the requested `ports`, in the order of the `ports` query.
    ///
    /// # Errors
    /// Fails for more than 127 ports, since channel numbers are one byte.
    pub fn new(ports: &[u16]) -> Result<Self, PortForwardError> {
        if ports.len() > 127 {
            return Err(PortForwardError::TooManyPorts(ports.len()));
        }
        Ok(Self { ports: ports.to_vec(), prefix: vec![(2, [0; 2]); ports.len() * 2] })
    }

    /// Decodes one binary message from the server; `None` means it only carried (part of) a prefix.
    ///
    /// # Errors
    /// Fails on an empty message, an unknown channel, or a prefix naming another port.
    pub fn decode(&mut self, message: Bytes) -> Result<Option<ClientEvent>, PortForwardError> {
        let Some(&channel) = message.first() else {
            return Err(PortForwardError::Empty);
        };
        let slot = usize::from(channel);
        let (missing, seen) =
            self.prefix.get_mut(slot).ok_or(PortForwardError::UnknownChannel(channel))?;
        let mut rest = message.slice(1..);
        while *missing > 0 && !rest.is_empty() {
            seen[2 - usize::from(*missing)] = rest[0];
            *missing -= 1;
            rest = rest.slice(1..);
            if *missing == 0 {
                let expected = self.ports[slot / 2];
                let got = u16::from_le_bytes(*seen);
                if got != expected {
                    return Err(PortForwardError::PortMismatch { channel, expected, got });
                }
            }
        }
        if rest.is_empty() {
            return Ok(None);
        }
        let port_index = slot / 2;
        Ok(Some(if slot % 2 == 0 {
            ClientEvent::Data { port_index, data: rest }
        } else {
            ClientEvent::Error { port_index, message: rest }
        }))
    }
}

/// Server-side view of one client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// Data for the port at `port_index`.
    Data {
        /// Index into the ports of the request.
        port_index: usize,
        /// The bytes.
        data: Bytes,
    },
    /// A message the kubelet ignores: on an error channel, an unknown channel, or empty.
    Ignored,
}

/// Decodes a client message for a server forwarding `port_count` ports.
#[must_use]
pub fn decode_client_message(port_count: usize, message: &Bytes) -> ServerEvent {
    match message.first() {
        Some(&channel) if usize::from(channel) < port_count * 2 && channel % 2 == 0 => {
            let data = message.slice(1..);
            if data.is_empty() {
                ServerEvent::Ignored
            } else {
                ServerEvent::Data { port_index: usize::from(channel / 2), data }
            }
        }
        _ => ServerEvent::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn port_80_prefix_matches_the_spec_example() {
        assert_eq!(&encode_port_prefix(0, 80)[..], [0x00, 0x50, 0x00]);
        assert_eq!(&encode_port_prefix(1, 80)[..], [0x01, 0x50, 0x00]);
    }

    #[test]
    fn client_strips_prefixes_and_routes_channels() {
        let mut dec = ClientDecoder::new(&[80, 8443]).expect("two ports");
        assert_eq!(dec.decode(encode_port_prefix(0, 80)), Ok(None));
        assert_eq!(dec.decode(encode_port_prefix(3, 8443)), Ok(None));
        assert_eq!(
            dec.decode(encode(0, b"HTTP/1.1 200")),
            Ok(Some(ClientEvent::Data {
                port_index: 0,
                data: Bytes::from_static(b"HTTP/1.1 200")
            }))
        );
        // The error channel of port 1 has had its prefix; text follows.
        assert_eq!(
            dec.decode(encode(3, b"connection refused")),
            Ok(Some(ClientEvent::Error {
                port_index: 1,
                message: Bytes::from_static(b"connection refused")
            }))
        );
    }

    #[test]
    fn client_accepts_a_prefix_split_across_messages_or_joined_with_data() {
        let mut dec = ClientDecoder::new(&[258]).expect("one port");
        assert_eq!(dec.decode(Bytes::from_static(&[0, 0x02])), Ok(None));
        assert_eq!(
            dec.decode(Bytes::from_static(&[0, 0x01, b'h', b'i'])),
            Ok(Some(ClientEvent::Data { port_index: 0, data: Bytes::from_static(b"hi") }))
        );
    }

    #[test]
    fn client_rejects_a_wrong_port_and_unknown_channels() {
        let mut dec = ClientDecoder::new(&[80]).expect("one port");
        assert_eq!(
            dec.decode(encode_port_prefix(0, 81)),
            Err(PortForwardError::PortMismatch { channel: 0, expected: 80, got: 81 })
        );
        assert_eq!(dec.decode(encode(2, b"x")), Err(PortForwardError::UnknownChannel(2)));
        assert_eq!(dec.decode(Bytes::new()), Err(PortForwardError::Empty));
    }

    #[test]
    fn server_ignores_writes_to_error_and_unknown_channels() {
        let msg = encode(2, b"data");
        assert_eq!(
            decode_client_message(2, &msg),
            ServerEvent::Data { port_index: 1, data: Bytes::from_static(b"data") }
        );
        assert_eq!(decode_client_message(2, &encode(1, b"x")), ServerEvent::Ignored);
        assert_eq!(decode_client_message(2, &encode(4, b"x")), ServerEvent::Ignored);
        assert_eq!(decode_client_message(2, &Bytes::new()), ServerEvent::Ignored);
    }

    proptest! {
        #[test]
        fn client_decoder_never_panics(ports in proptest::collection::vec(any::<u16>(), 0..4),
                                       msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), 0..16)) {
            let mut dec = ClientDecoder::new(&ports).expect("few ports");
            for m in msgs {
                let _ = dec.decode(Bytes::from(m));
            }
        }

        #[test]
        fn data_round_trips_after_the_prefix(port in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 1..64)) {
            let mut dec = ClientDecoder::new(&[port]).expect("one port");
            prop_assert_eq!(dec.decode(encode_port_prefix(0, port)), Ok(None));
            prop_assert_eq!(
                dec.decode(encode(0, &data)),
                Ok(Some(ClientEvent::Data { port_index: 0, data: Bytes::from(data.clone()) }))
            );
        }
    }
}
