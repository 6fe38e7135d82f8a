"""Generated protobuf messages of the Kubernetes view: ``queue_stat_pb2`` (Knative's
queue-proxy ``Stat``), made by grpcio-tools from ``queue_stat.proto`` beside it
(``make proto``; tests/test_kube_queue_stat.py checks the committed code is what that makes)."""
