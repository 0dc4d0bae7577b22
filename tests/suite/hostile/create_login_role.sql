CREATE ROLE {role} LOGIN PASSWORD '{password}'
