"""Campaign plans: the YAML schema (`schema`), the tasks' deadlines (`deadlines`) and loading into the database
(`sync`). The plan format is documented in the README (方案格式).
"""
