"""Provides the Ilúvatar gRPC API as generated code: ``iluvatar_rpc_pb2`` (the messages and
enums) and ``iluvatar_rpc_pb2_grpc`` (stubs and servicers of ``iluvatar_rpc.IluvatarWorker``
and ``IluvatarController``), both made by grpcio-tools from ``iluvatar_rpc.proto`` beside
them (``make proto``; never edit them by hand).

The client backend (``backends/iluvatar/``) and ``faastui serve iluvatar`` both use them.
Importing this package imports nothing; the generated modules need ``protobuf`` (and the
``_grpc`` one ``grpcio``), the optional extra ``faastui[iluvatar]``, and cost ~65 ms, so
their users import them on first use.
"""

__all__: list[str] = []
