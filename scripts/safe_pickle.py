"""Read pickled checkpoints without running anything from the file.

A pickle is a program: each GLOBAL names a callable that `pickle.load` imports and calls. NVlabs network
pickles (stylegan2-ada-pytorch) go further: every module object carries the source code of its Python
module, which their loader exec()s. This reader never imports a name from the file and never executes
pickled source. It

- rebuilds tensors (plain-pickle tensors, whose storages are nested legacy torch.save blobs; torch.save zip
  files; legacy torch.save files), OrderedDicts, numpy scalars/arrays of plain dtypes, and Python's own
  containers;
- turns NVlabs persistent objects and any other class it does not know into `Inert` placeholders that only
  record their class name, constructor arguments and state (so the parameters in a module tree can be read);
- refuses names that can run code (os.system, builtins.eval/exec/getattr, subprocess, importlib, ...) with
  `UnsafePickleError`, whose message names the global.

    from safe_pickle import load
    data = load("network.pkl")        # or a torch.save file: .pt / .pth
    tensors = named_tensors(data["G_ema"])   # {"mapping.fc0.weight": Tensor, ...}
"""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np
import torch


class UnsafePickleError(pickle.UnpicklingError):
    pass


class Inert:
    """Stands in for a class the reader will not import: records what the pickle says about the object."""
    qualname = "?"

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.state = args, kwargs, None

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"<inert {self.qualname}>"


class PersistentObject(Inert):
    """An NVlabs persistent-class object (torch_utils.persistence): class name and __dict__; its pickled
    module source is dropped unread."""

    def __init__(self, class_name, state):
        super().__init__()
        self.qualname, self.class_name, self.state = class_name, class_name, state


class PlainDict(dict):
    """dnnlib.EasyDict and other dict subclasses, as a plain dict that tolerates a BUILD state."""

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.update(state)


_inert_types = {}


def _inert_type(qualname):
    if qualname not in _inert_types:
        _inert_types[qualname] = type("Inert:" + qualname, (Inert,), {"qualname": qualname})
    return _inert_types[qualname]


# Modules whose names can run code or reach the system: refused outright, with the name in the message.
_DANGEROUS_MODULES = {
    "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "pickle", "_pickle",
    "marshal", "types", "ctypes", "code", "codeop", "pty", "webbrowser", "functools", "operator", "io", "_io",
    "pathlib", "tempfile", "multiprocessing", "threading", "signal", "inspect", "platform", "asyncio",
    "builtins", "__builtin__", "posixpath", "ntpath", "commands", "popen2", "pdb", "timeit", "trace", "dill",
    "cloudpickle", "torch.hub", "torch.jit", "torch.utils.cpp_extension", "torch.serialization",
    "torch._C", "torch.ops", "torch._ops", "numpy.lib.npyio", "numpy.testing", "copy",
}
# A few functions of otherwise harmless modules that load or run other files.
_DANGEROUS_NAMES = {("torch", "load"), ("torch", "save"), ("numpy", "load"), ("numpy", "fromfile"),
                    ("numpy", "loadtxt"), ("numpy", "genfromtxt"), ("torch_utils.persistence", "_src_to_module")}
_SAFE_BUILTINS = {"set": set, "frozenset": frozenset, "bytearray": bytearray, "complex": complex, "slice": slice,
                  "range": range, "object": object, "bool": bool, "int": int, "float": float, "str": str,
                  "bytes": bytes, "list": list, "tuple": tuple, "dict": dict}

_PY2_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg", "exceptions": "builtins"}

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
    "UntypedStorage": torch.uint8,
}


class _StorageType:
    """What a pickled storage class name resolves to: only its dtype, never the real class."""

    def __init__(self, dtype):
        self.dtype = dtype


_PENDING = object()  # a tensor whose bytes come later in a legacy file (first of two passes)


class _Storage:
    """Raw bytes of one storage and its dtype; tensors are views built from it."""

    def __init__(self, dtype, data=None):
        self.dtype, self.data = dtype, data

    def tensor(self):
        if self.data is None:
            raise UnsafePickleError("a tensor refers to storage bytes that the file does not contain")
        return torch.frombuffer(bytearray(self.data), dtype=self.dtype) if len(self.data) else torch.empty(0, dtype=self.dtype)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    # backward hooks and metadata are dropped: they could only hold callables
    if not isinstance(storage, _Storage):
        raise UnsafePickleError(f"a tensor's storage is a {type(storage).__name__}, not tensor data")
    if getattr(storage, "pending", False):
        return _PENDING
    flat = storage.tensor()
    return torch.as_strided(flat, tuple(size), tuple(stride), int(storage_offset)).clone()


def _rebuild_parameter(data, *_ignored):
    if data is _PENDING:
        return data
    if not torch.is_tensor(data):
        raise UnsafePickleError("a parameter's data is not a tensor")
    return data


def _rebuild_from_type_v2(func, _new_type, args, _state):
    if func not in (_rebuild_tensor, _rebuild_parameter):
        raise UnsafePickleError("a tensor subclass is rebuilt by a function other than torch's tensor rebuilders")
    return func(*args)


def _reconstruct_persistent_obj(meta):
    if not isinstance(meta, dict) or "class_name" not in meta:
        raise UnsafePickleError("torch_utils.persistence object without a class name")
    return PersistentObject(str(meta["class_name"]), meta.get("state"))


def _copyreg_reconstructor(cls, base, state):
    if isinstance(cls, type) and issubclass(cls, (Inert, PlainDict)):
        obj = cls()
        if state is not None:
            obj.__setstate__(state)
        return obj
    if cls is collections.OrderedDict:
        return collections.OrderedDict()
    raise UnsafePickleError(f"copyreg._reconstructor of {getattr(cls, '__name__', cls)!r} refused")


def _newobj(cls, *args):
    if isinstance(cls, type) and issubclass(cls, (Inert, PlainDict, collections.OrderedDict)):
        return cls.__new__(cls)
    raise UnsafePickleError(f"copyreg.__newobj__ of {getattr(cls, '__name__', cls)!r} refused")


def _codecs_encode(text, encoding="utf-8"):
    # protocol-2 pickles spell bytes as _codecs.encode(str, "latin1")
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8"):
        raise UnsafePickleError("_codecs.encode with unexpected arguments")
    return text.encode(encoding)


def _numpy_reconstruct(subtype, shape, dtype):
    return _ArrayBuilder()


class _ArrayBuilder:
    """numpy.ndarray state -> array; object arrays only hold values the reader already rebuilt."""

    def __setstate__(self, state):
        _version, shape, dtype, fortran, raw = state
        if not isinstance(dtype, np.dtype):
            raise UnsafePickleError("numpy array without a dtype")
        if dtype.hasobject:
            if not isinstance(raw, list):
                raise UnsafePickleError("numpy object array whose items are not a list")
            arr = np.empty(len(raw), dtype=object)
            arr[:] = raw
        else:
            if not isinstance(raw, (bytes, bytearray)):
                raise UnsafePickleError("numpy array whose data are not bytes")
            arr = np.frombuffer(bytes(raw), dtype=dtype).copy()
        self.array = arr.reshape(shape, order="F" if fortran else "C")


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype):
        raise UnsafePickleError("numpy scalar without a dtype")
    if dtype.hasobject:
        return data
    return np.frombuffer(bytes(data), dtype=dtype)[0]


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch.tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): _inert_type("torch.Tensor"),
    ("torch.nn.parameter", "Parameter"): _inert_type("torch.nn.parameter.Parameter"),
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("copyreg", "_reconstructor"): _copyreg_reconstructor,
    ("copy_reg", "_reconstructor"): _copyreg_reconstructor,
    ("copyreg", "__newobj__"): _newobj,
    ("dnnlib", "EasyDict"): PlainDict,
    ("dnnlib.util", "EasyDict"): PlainDict,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): _inert_type("numpy.ndarray"),
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
}


def _is_dangerous(module, name):
    if (module, name) in _DANGEROUS_NAMES:
        return True
    parts = module.split(".")
    return any(".".join(parts[:i]) in _DANGEROUS_MODULES for i in range(1, len(parts) + 1))


class SafeUnpickler(pickle.Unpickler):
    """pickle.Unpickler whose find_class never imports: allowlist -> our own rebuilders, names that can run
    code -> refused, anything else -> an Inert placeholder type."""

    def __init__(self, file, storages=None, where="pickle", read_storage=None):
        super().__init__(file)
        self.storages = storages  # key -> _Storage, for torch.save files (persistent ids)
        self.where = where
        self.read_storage = read_storage  # key -> bytes (zip files); None: bytes come later (legacy files)

    def find_class(self, module, name):
        module = _PY2_NAMES.get(module, module)  # protocol-2 pickles use Python 2 module names
        if module == "builtins" and name in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[name]
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _load_nested_storage
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if _is_dangerous(module, name):
            raise UnsafePickleError(f"{self.where}: refuses to load {module}.{name}: a pickle that names it can "
                                    "run code on this machine")
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        return _inert_type(f"{module}.{name}")

    def persistent_load(self, pid):
        # torch.save: ('storage', storage_type, key, location, numel[, view_metadata])
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage") or self.storages is None:
            raise UnsafePickleError(f"{self.where}: unexpected persistent id {str(pid)[:80]}")
        storage_type, key = pid[1], str(pid[2] if not isinstance(pid[2], bytes) else pid[2].decode())
        if not isinstance(storage_type, _StorageType):
            raise UnsafePickleError(f"{self.where}: storage of an unknown type")
        if key not in self.storages:
            st = self.storages[key] = _Storage(storage_type.dtype)
            if self.read_storage is not None:
                st.data = self.read_storage(key)
            else:
                st.pending = True
        root = self.storages[key]
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # legacy view: (view_key, offset, size) in elements
            _view_key, offset, size = view
            return _StorageView(root, int(offset), int(size))
        return root


class _StorageView(_Storage):
    def __init__(self, root, offset, size):
        self.root, self.offset, self.size = root, offset, size
        self.dtype = root.dtype

    @property
    def pending(self):
        return getattr(self.root, "pending", False)

    def tensor(self):
        return self.root.tensor()[self.offset:self.offset + self.size]


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _load_legacy(f, where):
    """torch.save's pre-1.6 format (also what plain-pickled tensors nest): magic, protocol, sys info, the
    object pickle, the storage keys, then each storage's element count and raw bytes."""
    meta = SafeUnpickler(f, where=where)
    if meta.load() != _LEGACY_MAGIC:
        raise UnsafePickleError(f"{where}: not a torch.save file (bad magic number)")
    if meta.load() != 1001:
        raise UnsafePickleError(f"{where}: unsupported torch.save protocol")
    SafeUnpickler(f, where=where).load()  # sys info: endianness and type sizes (little-endian assumed)
    # The storages' bytes follow the object pickle: a first pass learns their keys and types, a second pass
    # rebuilds the objects with the bytes in hand.
    start = f.tell()
    storages = {}
    SafeUnpickler(f, storages, where).load()
    keys = SafeUnpickler(f, where=where).load()
    for key in keys:
        st = storages.get(str(key))
        if st is None:
            raise UnsafePickleError(f"{where}: storage {key} is listed but never used")
        (count,) = struct.unpack("<q", f.read(8))
        nbytes = count * torch.empty(0, dtype=st.dtype).element_size()
        st.data = f.read(nbytes)
        st.pending = False
        if len(st.data) != nbytes:
            raise UnsafePickleError(f"{where}: file ends inside storage {key}")
    end = f.tell()
    f.seek(start)
    result = SafeUnpickler(f, storages, where).load()
    f.seek(end)
    return result


def _load_zip(path_or_file, where):
    """torch.save's zip format: ARCHIVE/data.pkl plus ARCHIVE/data/<key> raw storages."""
    with zipfile.ZipFile(path_or_file) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkl:
            raise UnsafePickleError(f"{where}: zip file without data.pkl (a TorchScript file, not a checkpoint?)")
        prefix = pkl[0][:-len("data.pkl")]
        result = SafeUnpickler(io.BytesIO(z.read(pkl[0])), {}, where,
                               read_storage=lambda key: z.read(f"{prefix}data/{key}")).load()
    return result


def _load_nested_storage(blob):
    """torch.storage._load_from_bytes: a storage pickled inside a plain pickle, as legacy torch.save bytes."""
    if not isinstance(blob, (bytes, bytearray)):
        raise UnsafePickleError("torch.storage._load_from_bytes without bytes")
    if blob[:4] == b"PK\x03\x04":
        return _load_zip(io.BytesIO(blob), "nested storage")
    return _load_legacy(io.BytesIO(blob), "nested storage")


def load(path):
    """Load a pickle (.pkl) or torch.save file (.pt/.pth, zip or legacy) with the restricted reader."""
    with open(path, "rb") as f:
        head = f.read(4)
        f.seek(0)
        if head == b"PK\x03\x04":
            return _unwrap(_load_zip(f, path))
        if head[:2] == b"\x80\x02":  # legacy torch.save starts with a protocol-2 pickle of the magic number
            try:
                return _unwrap(_load_legacy(f, path))
            except UnsafePickleError as e:
                if "bad magic" not in str(e):
                    raise
                f.seek(0)
        return _unwrap(SafeUnpickler(f, where=path).load())


def _unwrap(obj):
    """numpy arrays come back from BUILD as _ArrayBuilder: replace them (in plain containers) by the arrays."""
    if isinstance(obj, _ArrayBuilder):
        return obj.array
    if isinstance(obj, dict):
        for k in list(obj):
            obj[k] = _unwrap(obj[k])
    elif isinstance(obj, list):
        obj[:] = [_unwrap(v) for v in obj]
    elif isinstance(obj, tuple):
        return tuple(_unwrap(v) for v in obj)
    elif isinstance(obj, Inert) and isinstance(obj.state, dict):
        _unwrap(obj.state)
    return obj


def named_tensors(module, prefix=""):
    """Parameters and persistent buffers of a pickled nn.Module tree (Inert placeholders), by dotted name,
    the way state_dict() names them."""
    state = module.state if isinstance(module, Inert) else None
    if not isinstance(state, dict):
        raise ValueError(f"{prefix or 'object'} is not a pickled torch module")
    out = {}
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, t in (state.get(group) or {}).items():
            if t is not None and name not in skip:
                out[prefix + name] = t
    for name, child in (state.get("_modules") or {}).items():
        if child is not None:
            out.update(named_tensors(child, f"{prefix}{name}."))
    return out
