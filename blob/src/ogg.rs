//! Opus in Ogg (RFC 7845): the recording format ten times smaller than WAV. The writer takes encoded Opus
//! packets and frames them into Ogg pages (RFC 3533) itself: an `OpusHead` page, an `OpusTags` page, then
//! audio pages of about a second each, the last flagged end-of-stream with the exact sample count.

use std::io::Write;

/// Audio pages are closed at this many packets (one second of 20 ms packets): page overhead stays ~1 %.
const PACKETS_PER_PAGE: usize = 50;
/// Opus granule positions count 48 kHz samples whatever the input rate (RFC 7845 §4).
const GRANULE_RATE: u64 = 48_000;

/// Writes one Opus stream as an Ogg file.
pub struct OggOpusWriter<W: Write> {
    out: W,
    serial: u32,
    sequence: u32,
    /// Packets of the page being built, and their 48 kHz sample count.
    packets: Vec<Vec<u8>>,
    /// 48 kHz samples in the packets written so far (pages flushed and pending), pre-skip included.
    granule: u64,
    pre_skip: u16,
    input_rate: u32,
}

impl<W: Write> OggOpusWriter<W> {
    /// Starts a stream of `channels` channels encoded from `input_rate` audio whose encoder delays its output
    /// by `pre_skip` 48 kHz samples (its lookahead): writes the two header pages.
    pub fn new(out: W, channels: u8, input_rate: u32, pre_skip: u16, serial: u32) -> std::io::Result<Self> {
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1); // version
        head.push(channels);
        head.extend_from_slice(&pre_skip.to_le_bytes());
        head.extend_from_slice(&input_rate.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // mapping family 0: mono or stereo
        let vendor = b"voicera";
        let mut tags = Vec::with_capacity(16 + vendor.len());
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes()); // no user comments
        let mut writer =
            Self { out, serial, sequence: 0, packets: Vec::new(), granule: u64::from(pre_skip), pre_skip, input_rate };
        writer.page(&[&head], 0, 0x02)?;
        writer.page(&[&tags], 0, 0)?;
        Ok(writer)
    }

    /// Adds one Opus packet holding `input_samples` samples per channel at the input rate.
    pub fn write_packet(&mut self, packet: &[u8], input_samples: u32) -> std::io::Result<()> {
        self.granule += u64::from(input_samples) * GRANULE_RATE / u64::from(self.input_rate);
        self.packets.push(packet.to_vec());
        if self.packets.len() >= PACKETS_PER_PAGE {
            self.flush_page(0, self.granule)?;
        }
        Ok(())
    }

    /// Ends the stream: the last page carries end-of-stream and the granule of exactly `total_input_samples`
    /// of audio (the encoder's padding of the last packet is cut). Returns the output.
    pub fn finish(mut self, total_input_samples: u64) -> std::io::Result<W> {
        let end = u64::from(self.pre_skip) + total_input_samples * GRANULE_RATE / u64::from(self.input_rate);
        self.flush_page(0x04, end.min(self.granule))?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_page(&mut self, flags: u8, granule: u64) -> std::io::Result<()> {
        let packets = std::mem::take(&mut self.packets);
        let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
        self.page(&refs, granule, flags)
    }

    /// Writes one page holding whole packets (each < 64 KB, at most 255 lacing values in all: Opus packets
    /// of 20 ms are far smaller, and pages close at [`PACKETS_PER_PAGE`]).
    fn page(&mut self, packets: &[&[u8]], granule: u64, flags: u8) -> std::io::Result<()> {
        let mut lacing = Vec::with_capacity(packets.len() * 2);
        for packet in packets {
            lacing.extend(std::iter::repeat_n(255u8, packet.len() / 255));
            lacing.push((packet.len() % 255) as u8);
        }
        if lacing.len() > 255 {
            return Err(std::io::Error::other("ogg page with more than 255 segments"));
        }
        let body_len: usize = packets.iter().map(|p| p.len()).sum();
        let mut page = Vec::with_capacity(27 + lacing.len() + body_len);
        page.extend_from_slice(b"OggS");
        page.push(0); // version
        page.push(flags);
        page.extend_from_slice(&granule.to_le_bytes());
        page.extend_from_slice(&self.serial.to_le_bytes());
        page.extend_from_slice(&self.sequence.to_le_bytes());
        page.extend_from_slice(&[0; 4]); // CRC, filled below
        page.push(lacing.len() as u8);
        page.extend_from_slice(&lacing);
        for packet in packets {
            page.extend_from_slice(packet);
        }
        let crc = crc32(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        self.sequence += 1;
        self.out.write_all(&page)
    }
}

/// Ogg's CRC-32: polynomial 0x04C11DB7, initial value 0, no reflection, no final xor.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = (i as u32) << 24;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04C1_1DB7 } else { crc << 1 };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    bytes.iter().fold(0u32, |crc, &b| (crc << 8) ^ TABLE[((crc >> 24) as u8 ^ b) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_ogg_reference() {
        // The CRC of "OggS" and of a known header page from libogg's test suite style check.
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn pages_carry_headers_packets_and_the_final_granule() {
        let mut writer = OggOpusWriter::new(Vec::new(), 2, 16_000, 312, 7).unwrap();
        for _ in 0..120 {
            writer.write_packet(&[0xAB; 300], 320).unwrap();
        }
        let out = writer.finish(120 * 320 - 100).unwrap();
        let mut pages = Vec::new();
        let mut at = 0;
        while at < out.len() {
            assert_eq!(&out[at..at + 4], b"OggS");
            let segments = out[at + 26] as usize;
            let body: usize = out[at + 27..at + 27 + segments].iter().map(|&b| b as usize).sum();
            let len = 27 + segments + body;
            let mut page = out[at..at + len].to_vec();
            let crc = u32::from_le_bytes(page[22..26].try_into().unwrap());
            page[22..26].fill(0);
            assert_eq!(crc32(&page), crc, "page {} CRC", pages.len());
            pages.push((out[at + 5], u64::from_le_bytes(out[at + 6..at + 14].try_into().unwrap()), segments));
            at += len;
        }
        assert_eq!(pages.len(), 2 + 3, "head, tags, 50 + 50 + 20 packets");
        assert_eq!(pages[0].0, 0x02, "beginning of stream");
        assert_eq!(&out[28..36], b"OpusHead");
        assert_eq!(pages[2], (0, 312 + 50 * 960, 100), "300-byte packets take two lacing values each");
        assert_eq!(pages[4], (0x04, 312 + (120 * 320 - 100) * 3, 40), "end of stream, padding cut");
    }
}
