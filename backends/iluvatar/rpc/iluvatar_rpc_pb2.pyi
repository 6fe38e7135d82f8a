from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContainerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR: _ClassVar[ContainerState]
    Unhealthy: _ClassVar[ContainerState]
    COLD: _ClassVar[ContainerState]
    PREWARM: _ClassVar[ContainerState]
    WARM: _ClassVar[ContainerState]

class RpcHealthStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTHY: _ClassVar[RpcHealthStatus]
    UNHEALTHY: _ClassVar[RpcHealthStatus]

class LanguageRuntime(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOLANG: _ClassVar[LanguageRuntime]
    PYTHON3: _ClassVar[LanguageRuntime]
ERROR: ContainerState
Unhealthy: ContainerState
COLD: ContainerState
PREWARM: ContainerState
WARM: ContainerState
HEALTHY: RpcHealthStatus
UNHEALTHY: RpcHealthStatus
NOLANG: LanguageRuntime
PYTHON3: LanguageRuntime

class PingRequest(_message.Message):
    __slots__ = ("message", "transaction_id")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    message: str
    transaction_id: str
    def __init__(self, message: _Optional[str] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class InvokeRequest(_message.Message):
    __slots__ = ("function_name", "function_version", "json_args", "transaction_id")
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_VERSION_FIELD_NUMBER: _ClassVar[int]
    JSON_ARGS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    function_name: str
    function_version: str
    json_args: str
    transaction_id: str
    def __init__(self, function_name: _Optional[str] = ..., function_version: _Optional[str] = ..., json_args: _Optional[str] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class RegisteredFunction(_message.Message):
    __slots__ = ("function_name", "function_version", "image_name")
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    function_name: str
    function_version: str
    image_name: str
    def __init__(self, function_name: _Optional[str] = ..., function_version: _Optional[str] = ..., image_name: _Optional[str] = ...) -> None: ...

class ListFunctionRequest(_message.Message):
    __slots__ = ("transaction_id",)
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    def __init__(self, transaction_id: _Optional[str] = ...) -> None: ...

class ListFunctionResponse(_message.Message):
    __slots__ = ("functions",)
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    functions: _containers.RepeatedCompositeFieldContainer[RegisteredFunction]
    def __init__(self, functions: _Optional[_Iterable[_Union[RegisteredFunction, _Mapping]]] = ...) -> None: ...

class InvokeResponse(_message.Message):
    __slots__ = ("json_result", "success", "duration_us", "compute", "container_state")
    JSON_RESULT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_STATE_FIELD_NUMBER: _ClassVar[int]
    json_result: str
    success: bool
    duration_us: int
    compute: int
    container_state: ContainerState
    def __init__(self, json_result: _Optional[str] = ..., success: _Optional[bool] = ..., duration_us: _Optional[int] = ..., compute: _Optional[int] = ..., container_state: _Optional[_Union[ContainerState, str]] = ...) -> None: ...

class InvokeAsyncRequest(_message.Message):
    __slots__ = ("function_name", "function_version", "json_args", "transaction_id")
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_VERSION_FIELD_NUMBER: _ClassVar[int]
    JSON_ARGS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    function_name: str
    function_version: str
    json_args: str
    transaction_id: str
    def __init__(self, function_name: _Optional[str] = ..., function_version: _Optional[str] = ..., json_args: _Optional[str] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class InvokeAsyncResponse(_message.Message):
    __slots__ = ("lookup_cookie", "success")
    LOOKUP_COOKIE_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    lookup_cookie: str
    success: bool
    def __init__(self, lookup_cookie: _Optional[str] = ..., success: _Optional[bool] = ...) -> None: ...

class InvokeAsyncLookupRequest(_message.Message):
    __slots__ = ("lookup_cookie", "transaction_id")
    LOOKUP_COOKIE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    lookup_cookie: str
    transaction_id: str
    def __init__(self, lookup_cookie: _Optional[str] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class PrewarmRequest(_message.Message):
    __slots__ = ("function_name", "function_version", "transaction_id", "compute")
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    function_name: str
    function_version: str
    transaction_id: str
    compute: int
    def __init__(self, function_name: _Optional[str] = ..., function_version: _Optional[str] = ..., transaction_id: _Optional[str] = ..., compute: _Optional[int] = ...) -> None: ...

class PrewarmResponse(_message.Message):
    __slots__ = ("success", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("function_name", "function_version", "image_name", "memory", "cpus", "parallel_invokes", "transaction_id", "language", "compute", "isolate", "container_server", "resource_timings_json", "system_function")
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_INVOKES_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    ISOLATE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_SERVER_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TIMINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    function_name: str
    function_version: str
    image_name: str
    memory: int
    cpus: int
    parallel_invokes: int
    transaction_id: str
    language: LanguageRuntime
    compute: int
    isolate: int
    container_server: int
    resource_timings_json: str
    system_function: bool
    def __init__(self, function_name: _Optional[str] = ..., function_version: _Optional[str] = ..., image_name: _Optional[str] = ..., memory: _Optional[int] = ..., cpus: _Optional[int] = ..., parallel_invokes: _Optional[int] = ..., transaction_id: _Optional[str] = ..., language: _Optional[_Union[LanguageRuntime, str]] = ..., compute: _Optional[int] = ..., isolate: _Optional[int] = ..., container_server: _Optional[int] = ..., resource_timings_json: _Optional[str] = ..., system_function: _Optional[bool] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("success", "fqdn", "error")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    FQDN_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success: bool
    fqdn: str
    error: str
    def __init__(self, success: _Optional[bool] = ..., fqdn: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("transaction_id",)
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    def __init__(self, transaction_id: _Optional[str] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("cpu_queue_len", "gpu_queue_len", "used_mem_pct", "cpu_util", "cpu_load_avg", "gpu_load_avg", "num_running_funcs", "worker_name", "timestamp")
    CPU_QUEUE_LEN_FIELD_NUMBER: _ClassVar[int]
    GPU_QUEUE_LEN_FIELD_NUMBER: _ClassVar[int]
    USED_MEM_PCT_FIELD_NUMBER: _ClassVar[int]
    CPU_UTIL_FIELD_NUMBER: _ClassVar[int]
    CPU_LOAD_AVG_FIELD_NUMBER: _ClassVar[int]
    GPU_LOAD_AVG_FIELD_NUMBER: _ClassVar[int]
    NUM_RUNNING_FUNCS_FIELD_NUMBER: _ClassVar[int]
    WORKER_NAME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    cpu_queue_len: int
    gpu_queue_len: int
    used_mem_pct: float
    cpu_util: float
    cpu_load_avg: float
    gpu_load_avg: float
    num_running_funcs: int
    worker_name: str
    timestamp: int
    def __init__(self, cpu_queue_len: _Optional[int] = ..., gpu_queue_len: _Optional[int] = ..., used_mem_pct: _Optional[float] = ..., cpu_util: _Optional[float] = ..., cpu_load_avg: _Optional[float] = ..., gpu_load_avg: _Optional[float] = ..., num_running_funcs: _Optional[int] = ..., worker_name: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ("transaction_id",)
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    def __init__(self, transaction_id: _Optional[str] = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: RpcHealthStatus
    def __init__(self, status: _Optional[_Union[RpcHealthStatus, str]] = ...) -> None: ...

class CleanRequest(_message.Message):
    __slots__ = ("transaction_id",)
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    def __init__(self, transaction_id: _Optional[str] = ...) -> None: ...

class CleanResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EstInvokeRequest(_message.Message):
    __slots__ = ("fqdns", "transaction_id")
    FQDNS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    fqdns: _containers.RepeatedScalarFieldContainer[str]
    transaction_id: str
    def __init__(self, fqdns: _Optional[_Iterable[str]] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class EstInvokeResponse(_message.Message):
    __slots__ = ("est_time",)
    EST_TIME_FIELD_NUMBER: _ClassVar[int]
    est_time: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, est_time: _Optional[_Iterable[float]] = ...) -> None: ...

class RegisterWorkerRequest(_message.Message):
    __slots__ = ("name", "host", "port", "memory", "cpus", "compute", "isolation", "gpus")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    host: str
    port: int
    memory: int
    cpus: int
    compute: int
    isolation: int
    gpus: int
    def __init__(self, name: _Optional[str] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., memory: _Optional[int] = ..., cpus: _Optional[int] = ..., compute: _Optional[int] = ..., isolation: _Optional[int] = ..., gpus: _Optional[int] = ...) -> None: ...

class RegisterWorkerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
