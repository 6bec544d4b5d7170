# Passerelle controller image: Node 24 runs the TypeScript sources directly (type stripping).
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY templates ./templates
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=16"
USER node
ENTRYPOINT ["node", "/app/bin/passerelle.js"]
CMD ["run", "--configfile=/config/passerelle.toml"]
