//! CTranslate2 Whisper `model.bin` → Hugging Face-named safetensors, the form candle's Whisper loads.
//!
//! The registry ships Whisper only as CTranslate2 (faster-whisper) weights. The format is simple: a version-6
//! header, then every variable as name, rank, dims, dtype and raw bytes, then aliases. CTranslate2 fuses the
//! attention projections (Q,K,V for self-attention; K,V for cross-attention); we split them back, and K has no
//! bias in Whisper, so only Q and V biases are taken from the fused bias.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::Error;

/// One variable of a CTranslate2 model file.
#[derive(Debug, Clone)]
pub struct Ct2Variable {
    /// The tensor's shape.
    pub dims: Vec<usize>,
    /// `None` for CTranslate2's int8/int16 (quantized) storage, which we don't load.
    pub dtype: Option<DType>,
    /// The raw little-endian values.
    pub data: Vec<u8>,
}

/// A parsed CTranslate2 model file.
#[derive(Debug, Default)]
pub struct Ct2Model {
    /// The model spec's name (`WhisperSpec`).
    pub spec: String,
    /// Every variable, by its CTranslate2 name.
    pub variables: HashMap<String, Ct2Variable>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            Error::Format(format!("CTranslate2 model truncated at byte {} (wanted {n} more)", self.at))
        })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// `u16` length including the trailing NUL, then the bytes.
    fn string(&mut self) -> Result<String, Error> {
        let len = self.u16()? as usize;
        let raw = self.take(len)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec()).map_err(|_| Error::Format("CTranslate2 name is not UTF-8".into()))
    }
}

impl Ct2Model {
    /// Parses a version-6 CTranslate2 model file.
    pub fn parse(bytes: &[u8]) -> Result<Ct2Model, Error> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.u32()?;
        if version != 6 {
            return Err(Error::Format(format!("CTranslate2 model version {version} (only version 6 is supported)")));
        }
        let spec = r.string()?;
        let _revision = r.u32()?;
        let count = r.u32()? as usize;
        let mut variables = HashMap::with_capacity(count);
        for _ in 0..count {
            let name = r.string()?;
            let rank = r.u8()? as usize;
            let mut dims = Vec::with_capacity(rank);
            for _ in 0..rank {
                dims.push(r.u32()? as usize);
            }
            let (dtype, width) = match r.u8()? {
                0 => (Some(DType::F32), 4),
                1 => (None, 1),
                2 => (None, 2),
                3 => (Some(DType::I32), 4),
                4 => (Some(DType::F16), 2),
                other => return Err(Error::Format(format!("CTranslate2 variable {name}: unknown dtype {other}"))),
            };
            let nbytes = r.u32()? as usize;
            let expected = dims.iter().product::<usize>() * width;
            if nbytes != expected {
                return Err(Error::Format(format!(
                    "CTranslate2 variable {name}: {nbytes} bytes for dims {dims:?} (expected {expected})"
                )));
            }
            let data = r.take(nbytes)?.to_vec();
            variables.insert(name, Ct2Variable { dims, dtype, data });
        }
        // Aliases: the output projection shares the token embedding; candle reads the embedding directly.
        if r.at < bytes.len() {
            let aliases = r.u32()?;
            for _ in 0..aliases {
                let alias = r.string()?;
                let target = r.string()?;
                if let Some(v) = variables.get(&target).cloned() {
                    variables.entry(alias).or_insert(v);
                }
            }
        }
        Ok(Ct2Model { spec, variables })
    }

    fn tensor(&self, name: &str) -> Result<Tensor, Error> {
        let v = self.variables.get(name).ok_or_else(|| Error::Format(format!("CTranslate2 model lacks {name}")))?;
        let dtype = v.dtype.ok_or_else(|| {
            Error::Unsupported(format!("{name}: quantized (int8/int16) CTranslate2 weights are not supported"))
        })?;
        Ok(Tensor::from_raw_buffer(&v.data, dtype, &v.dims, &Device::Cpu)?)
    }

    fn scalar(&self, name: &str) -> Result<usize, Error> {
        let v = self.variables.get(name).ok_or_else(|| Error::Format(format!("CTranslate2 model lacks {name}")))?;
        // Integer scalars are stored as int8, int16 or int32 depending on the converter version.
        match (v.dtype, v.data.as_slice()) {
            (None, [a]) => Ok((*a as i8).max(0) as usize),
            (None, [a, b]) => Ok(i16::from_le_bytes([*a, *b]).max(0) as usize),
            (Some(DType::I32), [a, b, c, d]) => Ok(i32::from_le_bytes([*a, *b, *c, *d]).max(0) as usize),
            _ => Err(Error::Format(format!("{name} is not an integer scalar"))),
        }
    }

    fn count_layers(&self, prefix: &str) -> usize {
        (0..).take_while(|i| self.variables.keys().any(|k| k.starts_with(&format!("{prefix}/layer_{i}/")))).count()
    }
}

/// What the conversion produced: the tensors (HF names) and candle's Whisper config.
pub struct ConvertedWhisper {
    /// The weights under Hugging Face's names.
    pub tensors: HashMap<String, Tensor>,
    /// candle's Whisper `Config`, as JSON.
    pub config: serde_json::Value,
}

/// Maps a parsed CTranslate2 Whisper to HF tensor names and a candle `Config`. `suppress_tokens` comes from
/// CTranslate2's `config.json` (`suppress_ids`).
pub fn whisper_to_hf(model: &Ct2Model, suppress_tokens: &[u32]) -> Result<ConvertedWhisper, Error> {
    if model.spec != "WhisperSpec" {
        return Err(Error::Format(format!("expected a WhisperSpec model, found {:?}", model.spec)));
    }
    let mut out = HashMap::new();
    let mut put = |name: String, t: Tensor| {
        out.insert(name, t);
    };
    for side in ["encoder", "decoder"] {
        let hf = format!("model.{side}");
        if side == "encoder" {
            for conv in ["conv1", "conv2"] {
                put(format!("{hf}.{conv}.weight"), model.tensor(&format!("encoder/{conv}/weight"))?);
                put(format!("{hf}.{conv}.bias"), model.tensor(&format!("encoder/{conv}/bias"))?);
            }
        } else {
            put(format!("{hf}.embed_tokens.weight"), model.tensor("decoder/embeddings/weight")?);
            put(format!("{hf}.embed_positions.weight"), model.tensor("decoder/position_encodings/encodings")?);
        }
        put(format!("{hf}.layer_norm.weight"), model.tensor(&format!("{side}/layer_norm/gamma"))?);
        put(format!("{hf}.layer_norm.bias"), model.tensor(&format!("{side}/layer_norm/beta"))?);
        for i in 0..model.count_layers(side) {
            let src = format!("{side}/layer_{i}");
            let dst = format!("{hf}.layers.{i}");
            // Self-attention: fused Q,K,V.
            let w = model.tensor(&format!("{src}/self_attention/linear_0/weight"))?;
            let b = model.tensor(&format!("{src}/self_attention/linear_0/bias"))?;
            let d = w.dim(0)? / 3;
            put(format!("{dst}.self_attn.q_proj.weight"), w.narrow(0, 0, d)?);
            put(format!("{dst}.self_attn.k_proj.weight"), w.narrow(0, d, d)?);
            put(format!("{dst}.self_attn.v_proj.weight"), w.narrow(0, 2 * d, d)?);
            put(format!("{dst}.self_attn.q_proj.bias"), b.narrow(0, 0, d)?);
            put(format!("{dst}.self_attn.v_proj.bias"), b.narrow(0, 2 * d, d)?);
            linear(&mut put, model, &format!("{src}/self_attention/linear_1"), &format!("{dst}.self_attn.out_proj"))?;
            norm(&mut put, model, &format!("{src}/self_attention/layer_norm"), &format!("{dst}.self_attn_layer_norm"))?;
            if side == "decoder" {
                // Cross-attention: Q alone, then fused K,V.
                linear(&mut put, model, &format!("{src}/attention/linear_0"), &format!("{dst}.encoder_attn.q_proj"))?;
                let w = model.tensor(&format!("{src}/attention/linear_1/weight"))?;
                let b = model.tensor(&format!("{src}/attention/linear_1/bias"))?;
                let d = w.dim(0)? / 2;
                put(format!("{dst}.encoder_attn.k_proj.weight"), w.narrow(0, 0, d)?);
                put(format!("{dst}.encoder_attn.v_proj.weight"), w.narrow(0, d, d)?);
                put(format!("{dst}.encoder_attn.v_proj.bias"), b.narrow(0, d, d)?);
                linear(&mut put, model, &format!("{src}/attention/linear_2"), &format!("{dst}.encoder_attn.out_proj"))?;
                norm(
                    &mut put,
                    model,
                    &format!("{src}/attention/layer_norm"),
                    &format!("{dst}.encoder_attn_layer_norm"),
                )?;
            }
            linear(&mut put, model, &format!("{src}/ffn/linear_0"), &format!("{dst}.fc1"))?;
            linear(&mut put, model, &format!("{src}/ffn/linear_1"), &format!("{dst}.fc2"))?;
            norm(&mut put, model, &format!("{src}/ffn/layer_norm"), &format!("{dst}.final_layer_norm"))?;
        }
    }
    let embed = model.variables.get("decoder/embeddings/weight").map(|v| v.dims.clone()).unwrap_or_default();
    let positions = model.variables.get("decoder/position_encodings/encodings").map(|v| v.dims.clone());
    let mels = model.variables.get("encoder/conv1/weight").map(|v| v.dims[1]).unwrap_or(80);
    let config = serde_json::json!({
        "num_mel_bins": mels,
        "max_source_positions": 1500,
        "d_model": embed.get(1).copied().unwrap_or(0),
        "encoder_attention_heads": model.scalar("encoder/num_heads")?,
        "encoder_layers": model.count_layers("encoder"),
        "vocab_size": embed.first().copied().unwrap_or(0),
        "max_target_positions": positions.and_then(|p| p.first().copied()).unwrap_or(448),
        "decoder_attention_heads": model.scalar("decoder/num_heads")?,
        "decoder_layers": model.count_layers("decoder"),
        "suppress_tokens": suppress_tokens,
    });
    Ok(ConvertedWhisper { tensors: out, config })
}

fn linear(put: &mut impl FnMut(String, Tensor), m: &Ct2Model, src: &str, dst: &str) -> Result<(), Error> {
    put(format!("{dst}.weight"), m.tensor(&format!("{src}/weight"))?);
    put(format!("{dst}.bias"), m.tensor(&format!("{src}/bias"))?);
    Ok(())
}

fn norm(put: &mut impl FnMut(String, Tensor), m: &Ct2Model, src: &str, dst: &str) -> Result<(), Error> {
    put(format!("{dst}.weight"), m.tensor(&format!("{src}/gamma"))?);
    put(format!("{dst}.bias"), m.tensor(&format!("{src}/beta"))?);
    Ok(())
}

/// Converts the CTranslate2 Whisper in `dir` (`model.bin`, `config.json`) into `model.safetensors` and
/// `whisper-config.json` next to them, then removes `model.bin`.
pub fn convert_whisper_dir(dir: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(dir.join("model.bin"))?;
    let model = Ct2Model::parse(&bytes)?;
    let ct2_config: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json"))?)
        .map_err(|e| Error::Format(format!("CTranslate2 config.json: {e}")))?;
    let suppress: Vec<u32> = ct2_config["suppress_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(|v| v.as_u64()).map(|v| v as u32).collect())
        .unwrap_or_default();
    let converted = whisper_to_hf(&model, &suppress)?;
    let tensors: HashMap<String, Tensor> = converted
        .tensors
        .into_iter()
        .map(|(k, t)| Ok((k, t.contiguous()?)))
        .collect::<Result<_, candle_core::Error>>()?;
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors"))?;
    std::fs::write(dir.join("whisper-config.json"), serde_json::to_vec_pretty(&converted.config).unwrap_or_default())?;
    std::fs::remove_file(dir.join("model.bin"))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a CTranslate2 v6 file with the given f32 variables (and int32 scalars).
    pub(crate) fn write_ct2(spec: &str, vars: &[(&str, Vec<usize>, Vec<f32>)], scalars: &[(&str, i32)]) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&6u32.to_le_bytes());
        string(&mut out, spec);
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&((vars.len() + scalars.len()) as u32).to_le_bytes());
        for (name, dims, data) in vars {
            string(&mut out, name);
            out.push(dims.len() as u8);
            for d in dims {
                out.extend_from_slice(&(*d as u32).to_le_bytes());
            }
            out.push(0);
            out.extend_from_slice(&((data.len() * 4) as u32).to_le_bytes());
            for x in data {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        for (name, value) in scalars {
            string(&mut out, name);
            out.push(0);
            out.push(3);
            out.extend_from_slice(&4u32.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out
    }

    #[test]
    fn fused_attention_is_split_and_named_as_candle_expects() {
        let d = 2;
        let qkv: Vec<f32> = (0..3 * d * d).map(|x| x as f32).collect();
        let mut vars = vec![
            ("encoder/conv1/weight", vec![d, 80, 3], vec![0.0; d * 80 * 3]),
            ("encoder/conv1/bias", vec![d], vec![0.0; d]),
            ("encoder/conv2/weight", vec![d, d, 3], vec![0.0; d * d * 3]),
            ("encoder/conv2/bias", vec![d], vec![0.0; d]),
            ("encoder/layer_norm/gamma", vec![d], vec![1.0; d]),
            ("encoder/layer_norm/beta", vec![d], vec![0.0; d]),
            ("decoder/embeddings/weight", vec![5, d], vec![0.5; 5 * d]),
            ("decoder/position_encodings/encodings", vec![7, d], vec![0.0; 7 * d]),
            ("decoder/layer_norm/gamma", vec![d], vec![1.0; d]),
            ("decoder/layer_norm/beta", vec![d], vec![0.0; d]),
            ("encoder/layer_0/self_attention/linear_0/weight", vec![3 * d, d], qkv),
            ("encoder/layer_0/self_attention/linear_0/bias", vec![3 * d], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ];
        for name in ["self_attention/linear_1", "ffn/linear_0", "ffn/linear_1"] {
            vars.push((Box::leak(format!("encoder/layer_0/{name}/weight").into_boxed_str()), vec![d, d], vec![0.0; 4]));
            vars.push((Box::leak(format!("encoder/layer_0/{name}/bias").into_boxed_str()), vec![d], vec![0.0; 2]));
        }
        for name in ["self_attention/layer_norm", "ffn/layer_norm"] {
            vars.push((Box::leak(format!("encoder/layer_0/{name}/gamma").into_boxed_str()), vec![d], vec![1.0; 2]));
            vars.push((Box::leak(format!("encoder/layer_0/{name}/beta").into_boxed_str()), vec![d], vec![0.0; 2]));
        }
        let bytes = write_ct2("WhisperSpec", &vars, &[("encoder/num_heads", 1), ("decoder/num_heads", 1)]);
        let model = Ct2Model::parse(&bytes).unwrap();
        let hf = whisper_to_hf(&model, &[1, 2]).unwrap();
        let k = hf.tensors["model.encoder.layers.0.self_attn.k_proj.weight"].to_vec2::<f32>().unwrap();
        assert_eq!(k, vec![vec![4.0, 5.0], vec![6.0, 7.0]]);
        let vb = hf.tensors["model.encoder.layers.0.self_attn.v_proj.bias"].to_vec1::<f32>().unwrap();
        assert_eq!(vb, vec![5.0, 6.0]);
        assert!(!hf.tensors.contains_key("model.encoder.layers.0.self_attn.k_proj.bias"), "Whisper's K has no bias");
        assert_eq!(hf.config["encoder_layers"], 1);
        assert_eq!(hf.config["decoder_layers"], 0);
        assert_eq!(hf.config["vocab_size"], 5);
        assert_eq!(hf.config["max_target_positions"], 7);
        assert_eq!(hf.config["suppress_tokens"], serde_json::json!([1, 2]));
    }

    #[test]
    fn truncated_and_foreign_files_are_precise_errors() {
        let bytes = write_ct2("WhisperSpec", &[("a", vec![2], vec![1.0, 2.0])], &[]);
        let err = Ct2Model::parse(&bytes[..bytes.len() - 9]).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        let mut v5 = bytes.clone();
        v5[0] = 5;
        assert!(Ct2Model::parse(&v5).unwrap_err().to_string().contains("version 5"));
        let other = write_ct2("TransformerSpec", &[], &[]);
        let err = whisper_to_hf(&Ct2Model::parse(&other).unwrap(), &[]).err().unwrap().to_string();
        assert!(err.contains("WhisperSpec"), "{err}");
    }
}
