module weir.dev/kind/runc-shim

go 1.24
