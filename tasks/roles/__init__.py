"""Role tasks: the Prefect tasks a tool pins to hosts, one per host per execution."""
