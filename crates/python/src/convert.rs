//! JSON <-> Python, without an intermediate tree on the way in: response
//! bodies are decoded straight into Python objects by the core's decoder
//! (`calimero_client_core::json`, fuzzed there), so a large answer is
//! built once. Values keep their JSON type: integers stay
//! `int` (all of `u64` and `i64`), keys keep the node's spelling.

use std::cell::RefCell;

use calimero_client_core::endpoints::{Arg, Kind};
use calimero_client_core::{json, ArgValue};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyModule, PyString, PyTuple,
};
use serde_json::Value;

/// How deep a Python value may nest when sent as JSON.
const MAX_DEPTH: usize = 128;

/// Decodes JSON text into Python objects (the core's decoder, building
/// Python objects as it goes).
pub fn json_to_py<'py>(
    py: Python<'py>,
    body: &[u8],
) -> Result<Bound<'py, PyAny>, serde_json::Error> {
    let _paused = (body.len() >= GC_PAUSE_BYTES).then(|| GcPause::new(py));
    let keys = KeyCache::take();
    json::decode(PyBuilder(py, &keys), body)
}

/// Bodies from this size on are decoded with the cyclic garbage collector
/// paused: the objects made cannot form a cycle, and the collections
/// their allocations would trigger (each walking the young objects, some
/// every object of the process) took a quarter of the time of a 12.5 MB
/// answer (perf, benches/RESULTS.md).
const GC_PAUSE_BYTES: usize = 256 * 1024;

/// `gc.disable()` until dropped, when the collector was enabled (the GIL
/// is held throughout, so no other thread sees the pause).
struct GcPause<'py>(Option<Bound<'py, PyModule>>);

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> Self {
        let gc = py.import("gc").ok().filter(|gc| {
            gc.call_method0("isenabled")
                .and_then(|e| e.is_truthy())
                .unwrap_or(false)
                && gc.call_method0("disable").is_ok()
        });
        GcPause(gc)
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.0 {
            let _ = gc.call_method0("enable");
        }
    }
}

/// Object keys decoded so far, interned, kept from one decode to the
/// next: a key that repeats (the same few field names in every item of a
/// list, and in every answer: `jsonrpc`, `result`, `output`, `data`) is
/// one `str` with its hash already computed, not a new string each time.
/// Direct-mapped by a hash of the key's bytes; keys longer than
/// `MAX_CACHED_KEY` are not kept. One table for the process, taken for a
/// whole decode (the GIL is held throughout); a decode that finds it taken
/// (another thread's, resumed while this one's collector ran Python code)
/// interns its keys without it. Before it was kept, a fresh table per decode
/// cost a small answer about 8,000 instructions (allocating, clearing and
/// dropping 512 slots, interning each key anew: callgrind,
/// benches/RESULTS.md).
struct KeyCache(RefCell<Option<std::sync::MutexGuard<'static, Vec<Option<CachedKey>>>>>);

/// A key's text and its interned `str`.
type CachedKey = (Box<str>, Py<PyString>);

const KEY_SLOTS: usize = 512;
const MAX_CACHED_KEY: usize = 64;

/// The table (never dropped: its strings live as long as the process).
static KEYS: std::sync::Mutex<Vec<Option<CachedKey>>> = std::sync::Mutex::new(Vec::new());

impl KeyCache {
    fn take() -> Self {
        let guard = match KEYS.try_lock() {
            Ok(guard) => Some(guard),
            // A panic inside a decode left the table as it was: usable.
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        KeyCache(RefCell::new(guard.map(|mut slots| {
            if slots.is_empty() {
                slots.resize_with(KEY_SLOTS, || None);
            }
            slots
        })))
    }

    fn get<'py>(&self, py: Python<'py>, key: &str) -> Bound<'py, PyAny> {
        if key.len() > MAX_CACHED_KEY {
            return PyString::new(py, key).into_any();
        }
        let Ok(mut table) = self.0.try_borrow_mut() else {
            return PyString::new(py, key).into_any();
        };
        let Some(slots) = table.as_mut() else {
            return PyString::intern(py, key).into_any();
        };
        // FNV-1a over the bytes.
        let mut h: u32 = 0x811c_9dc5;
        for b in key.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let slot = (h as usize) % KEY_SLOTS;
        if let Some((text, obj)) = &slots[slot] {
            if **text == *key {
                return obj.bind(py).clone().into_any();
            }
        }
        let obj = PyString::intern(py, key);
        slots[slot] = Some((key.into(), obj.clone().unbind()));
        obj.into_any()
    }
}

/// A `serde_json::Value` as Python objects (small values: error details).
pub fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_vec(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    json_to_py(py, &text).map_err(|e| PyValueError::new_err(e.to_string()))
}

#[derive(Clone, Copy)]
struct PyBuilder<'py, 'k>(Python<'py>, &'k KeyCache);

impl<'py> json::Builder for PyBuilder<'py, '_> {
    type Node = Bound<'py, PyAny>;
    type Error = PyErr;

    fn null(self) -> PyResult<Self::Node> {
        Ok(self.0.None().into_bound(self.0))
    }
    fn bool(self, v: bool) -> PyResult<Self::Node> {
        Ok(PyBool::new(self.0, v).to_owned().into_any())
    }
    fn int(self, v: i64) -> PyResult<Self::Node> {
        Ok(v.into_pyobject(self.0)?.into_any())
    }
    fn uint(self, v: u64) -> PyResult<Self::Node> {
        Ok(v.into_pyobject(self.0)?.into_any())
    }
    fn float(self, v: f64) -> PyResult<Self::Node> {
        Ok(PyFloat::new(self.0, v).into_any())
    }
    fn str(self, v: &str) -> PyResult<Self::Node> {
        Ok(PyString::new(self.0, v).into_any())
    }
    fn key(self, v: &str) -> PyResult<Self::Node> {
        Ok(self.1.get(self.0, v))
    }
    fn list(self) -> PyResult<Self::Node> {
        Ok(PyList::empty(self.0).into_any())
    }
    fn push(self, list: &mut Self::Node, item: Self::Node) -> PyResult<()> {
        list.cast::<PyList>()?.append(item)
    }
    fn map(self) -> PyResult<Self::Node> {
        Ok(PyDict::new(self.0).into_any())
    }
    fn insert(self, map: &mut Self::Node, key: Self::Node, value: Self::Node) -> PyResult<()> {
        map.cast::<PyDict>()?.set_item(key, value)
    }
}

/// A Python `str` as Rust text. A lone surrogate cannot be encoded as
/// UTF-8 (nor sent): a ValueError naming the argument, not a bare
/// UnicodeEncodeError.
pub fn text(argument: &str, s: &Bound<'_, PyString>) -> PyResult<String> {
    s.to_cow().map(|c| c.into_owned()).map_err(|_| {
        PyValueError::new_err(format!(
            "{argument}: expected text encodable as UTF-8, got a string with a lone surrogate"
        ))
    })
}

/// A `str` argument: TypeError or ValueError naming it (PyO3's own
/// extraction errors name the argument only in a note).
pub fn str_arg(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let s = obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("{argument}: expected str, got {}", type_name(obj)))
    })?;
    text(argument, s)
}

/// An optional number (`int` or `float`, not `bool`); None when absent.
pub fn number_arg(argument: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if obj.is_instance_of::<PyBool>()
        || !(obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>())
    {
        return Err(PyTypeError::new_err(format!(
            "{argument}: expected a number (int or float), got {}",
            type_name(obj)
        )));
    }
    obj.extract::<f64>()
        .map(Some)
        .map_err(|_| PyValueError::new_err(format!("{argument}: {} is out of range", shown(obj))))
}

/// A `bool` argument (not any truthy value).
pub fn bool_arg(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    obj.cast::<PyBool>().map(|b| b.is_true()).map_err(|_| {
        PyTypeError::new_err(format!(
            "{argument}: expected True or False, got {}",
            type_name(obj)
        ))
    })
}

/// `obj` for an error message: its repr, cut at 60 characters (an int of
/// 4 000 digits must not make a 4 000-character message).
pub(crate) fn shown(obj: &Bound<'_, PyAny>) -> String {
    let text = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| format!("<{}>", type_name(obj)));
    let mut cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

/// A Python value as JSON: `None`, `bool`, `int` (64-bit), finite `float`,
/// `str`, `dict` with `str` keys, `list` and `tuple`. `argument` names the
/// parameter in errors.
pub fn py_to_json(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_json(argument, obj, 0)
}

fn to_json(argument: &str, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "{argument}: nested more than {MAX_DEPTH} levels deep"
        )));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<i64>() {
            return Ok(Value::from(v));
        }
        if let Ok(v) = obj.extract::<u64>() {
            return Ok(Value::from(v));
        }
        return Err(PyValueError::new_err(format!(
            "{argument}: integer {} does not fit in 64 bits",
            shown(obj)
        )));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        return serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| {
                PyValueError::new_err(format!("{argument}: {v} is not a finite number"))
            });
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(text(argument, s)?));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{argument}: dict keys must be str, got {}",
                    type_name(&k)
                ))
            })?;
            map.insert(text(argument, key)?, to_json(argument, &v, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|v| to_json(argument, &v, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|v| to_json(argument, &v, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    Err(PyTypeError::new_err(format!(
        "{argument}: {} is not JSON-serialisable (use dict, list, str, int, float, bool or None)",
        type_name(obj)
    )))
}

fn bytes_of(obj: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Some(b.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Some(b.to_vec());
    }
    None
}

/// A Python argument as the core takes it, checked against the argument's
/// kind for its Python type (`TypeError`) and range (`ValueError`); the
/// core then validates its content. `None` means absent.
pub fn to_arg(spec: &Arg, obj: &Bound<'_, PyAny>) -> PyResult<Option<ArgValue>> {
    if obj.is_none() {
        return Ok(None);
    }
    let name = spec.name;
    let wrong = |expected: &str| {
        PyTypeError::new_err(format!(
            "{name}: expected {expected}, got {}",
            type_name(obj)
        ))
    };
    Ok(Some(match spec.kind {
        Kind::Id
        | Kind::HexId
        | Kind::Package
        | Kind::Name
        | Kind::Url
        | Kind::NodePath
        | Kind::IgnoredId
        | Kind::IgnoredText
        | Kind::Alias
        | Kind::Hex { .. }
        | Kind::Choice(_)
        | Kind::Role => {
            let s = obj.cast::<PyString>().map_err(|_| wrong("str"))?;
            ArgValue::Str(text(name, s)?)
        }
        Kind::UInt | Kind::UInt32 => {
            if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
                return Err(wrong("int"));
            }
            let v = obj.extract::<u64>().map_err(|_| {
                PyValueError::new_err(format!(
                    "{name}: expected a non-negative integer below 2**64, got {}",
                    shown(obj)
                ))
            })?;
            ArgValue::UInt(v)
        }
        Kind::Bool => {
            let b = obj.cast::<PyBool>().map_err(|_| wrong("bool"))?;
            ArgValue::Bool(b.is_true())
        }
        Kind::StrList | Kind::IdList => {
            if !(obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>()) {
                return Err(wrong("a list of str"));
            }
            ArgValue::Json(py_to_json(name, obj)?)
        }
        // Handled by the binding itself, never converted here.
        Kind::Upload | Kind::LocalPath | Kind::Progress => return Ok(None),
        Kind::Members | Kind::HexIdList => match obj.cast::<PyString>() {
            Ok(s) => ArgValue::Str(text(name, s)?),
            Err(_) if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() => {
                ArgValue::Json(py_to_json(name, obj)?)
            }
            Err(_) => return Err(wrong("a list or its JSON text (str)")),
        },
        Kind::DeviceScope => match obj.cast::<PyString>() {
            Ok(s) => ArgValue::Str(text(name, s)?),
            Err(_)
                if obj.is_instance_of::<PyList>()
                    || obj.is_instance_of::<PyTuple>()
                    || obj.is_instance_of::<PyDict>() =>
            {
                ArgValue::Json(py_to_json(name, obj)?)
            }
            Err(_) => return Err(wrong("\"all\" or a list of application ids")),
        },
        Kind::Metadata => match obj.cast::<PyString>() {
            Ok(s) => ArgValue::Str(text(name, s)?),
            Err(_) if obj.is_instance_of::<PyDict>() => ArgValue::Json(py_to_json(name, obj)?),
            Err(_) => return Err(wrong("a dict or its JSON text (str)")),
        },
        Kind::JsonText => match obj.cast::<PyString>() {
            Ok(s) => ArgValue::Str(text(name, s)?),
            Err(_) => ArgValue::Json(py_to_json(name, obj)?),
        },
        Kind::Bytes => match (bytes_of(obj), obj.cast::<PyString>()) {
            (Some(b), _) => ArgValue::Bytes(b),
            (None, Ok(s)) => ArgValue::Str(text(name, s)?),
            (None, Err(_)) => ArgValue::Json(py_to_json(name, obj)?),
        },
    }))
}
