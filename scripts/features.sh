# The one feature set every cargo command of the project uses (sourced by
# scripts/test.sh and scripts/quickstart.sh), so gRPC's ~10 minute C++ build
# (grpcio-sys) happens once: tls (OpenSSL), v2 (the HTTP/JSON v2 API),
# discovery-srv (DNS SRV lookups), metrics (the metrics facade). None of
# them changes how gRPC itself is built.
FEATURES=(--features tls,v2,discovery-srv,metrics)
