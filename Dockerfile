# ferry's image: `docker build -t ferry .` then `docker run --rm ferry transfer --help`.
# Node 24, the current LTS line (Node 20 reached end of life in April 2026; the tests run on both).
# Build stage: compile TypeScript with the dev dependencies, then drop them.
FROM node:24-slim AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

# Runtime stage: Node, the compiled code and the production dependencies only. Node carries its
# own CA bundle; add private CAs with NODE_EXTRA_CA_CERTS or caFile in the security file.
FROM node:24-slim
ENV NODE_ENV=production \
    OCLIF_SKIP_NEW_VERSION_CHECK=true
WORKDIR /app
COPY --from=build /build/package.json ./package.json
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist ./dist
COPY bin ./bin
COPY oclif.manifest.json ./oclif.manifest.json
# The image's own unprivileged user (uid 1000); deploy/ runs it read-only with the state on a volume.
USER node
EXPOSE 9090
ENTRYPOINT ["node", "/app/bin/run.js"]
CMD ["--help"]
