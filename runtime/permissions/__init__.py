"""Identity-based authorization: roles (with a hierarchy), permissions per entity x action x data scope,
field-level read/write rights and masking, enforced inside the records service for every channel.

Modules: model (roles and grants), store (tessera_roles rows, pack roles sync), subjects (who acts:
roles incl. inherited, department subtree, organisation), scopes (scope -> SQL), masking, enforce
(the records-service hooks and PermissionService), admin (users, departments, roles), people_import.

This package's __init__ imports nothing on purpose: runtime.registry imports runtime.permissions.store,
and enforce imports the records service, which imports the registry.
"""
