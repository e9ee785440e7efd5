"""gRPC beside HTTP, in the same process and event loop: tasks.v1.TaskService over the same
service layer as the HTTP API, the standard health service and server reflection.

The stubs come from proto/ (`make proto`, which `make install` runs) into the package's
`proto` directory, generated and git-ignored.
"""
