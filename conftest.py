pytest_plugins = ["claystream_devstack.pytest_plugin"]
